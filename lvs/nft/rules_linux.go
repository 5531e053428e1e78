//go:build linux

package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// reg is the first 32-bit register (NFT_REG32_00); there are 16.
const reg = 8

// The tables' base chains.
func (d *tbl) chains() []*nftables.Chain {
	if d.dr {
		return []*nftables.Chain{{Name: "ingress", Table: d.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter, Device: d.opt.DRInterface}}
	}
	return []*nftables.Chain{
		{Name: "prerouting", Table: d.table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		{Name: "postrouting", Table: d.table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
	}
}

func (d *tbl) addrType() nftables.SetDatatype {
	if d.v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

// setSpec returns the definition of one of the table's maps (without its
// size): the base maps by name, or slots_<class> for a class.
func (d *tbl) setSpec(name string, c class) *nftables.Set {
	a := d.addrType()
	svcKey := []nftables.SetDatatype{nftables.TypeInetProto, a, nftables.TypeInetService}
	ap := nftables.MustConcatSetType(a, nftables.TypeInetService)
	s := &nftables.Set{Table: d.table, Name: name, IsMap: true}
	if mark, ok := isRealsSet(name); ok {
		name = setReals
		if mark {
			name = setMReals
		}
	}
	switch name {
	case setServices:
		s.KeyType, s.DataType = nftables.MustConcatSetType(svcKey...), nftables.TypeVerdict
	case setMarks:
		s.KeyType, s.DataType = nftables.TypeMark, nftables.TypeVerdict
	case setReals:
		s.KeyType, s.DataType = nftables.MustConcatSetType(append(svcKey, a, nftables.TypeInetService)...), nftables.TypeMark
	case setMReals:
		s.KeyType, s.DataType = nftables.MustConcatSetType(nftables.TypeMark, a, nftables.TypeInetService), nftables.TypeMark
	case setPickup:
		s.KeyType, s.DataType = nftables.MustConcatSetType(svcKey...), ap
	default:
		if c.Mark {
			s.KeyType = nftables.MustConcatSetType(nftables.TypeMark, nftables.TypeMark)
		} else {
			s.KeyType = nftables.MustConcatSetType(append(svcKey, nftables.TypeMark)...)
		}
		switch {
		case d.dr:
			s.DataType = nftables.TypeEtherAddr
		case c.KeepPort:
			s.DataType = a
		default:
			s.DataType = ap
		}
	}
	return s
}

// baseSets are the maps every table has (the reals and slots maps exist
// per shard and class in use).
func (d *tbl) baseSets() []string {
	if d.dr {
		return []string{setMarks, setServices}
	}
	return []string{setMarks, setPickup, setServices}
}

// A rule as wanted: its user data (tag), the maps it binds, and how to
// build it.
type ruleSpec struct {
	tag  string
	sets []string
	make func(*nftables.Chain) *nftables.Rule
}

// baseRules are the wanted rules of each base chain, in order.
func (d *tbl) baseRules() map[string][]ruleSpec {
	if d.dr {
		return map[string][]ruleSpec{"ingress": {
			{tagMarks, []string{setMarks}, d.marksRule},
			{tagDispatch, []string{setServices}, d.dispatchRule},
		}}
	}
	return map[string][]ruleSpec{
		"prerouting": {
			{tagMarks, []string{setMarks}, d.marksRule},
			{tagDispatch, []string{setServices}, d.dispatchRule},
		},
		"postrouting": {{pickupTag(d.opt.ClientInterface), []string{setPickup}, d.pickupRule}},
	}
}

// classRuleSpec is the one rule of class c's chain.
func (d *tbl) classRuleSpec(c class) ruleSpec {
	tag := fmt.Sprintf("vigil class %s seed=%#x", c.name(), d.opt.Seed)
	if d.dr {
		tag += fmt.Sprintf(" mac=%s if=%d", d.ownMAC, d.ifindex)
	}
	return ruleSpec{tag, []string{classSet(c.name())}, func(ch *nftables.Chain) *nftables.Rule { return d.classRule(ch, c, tag) }}
}

// family is what differs between the IPv4 and IPv6 tables' rules.
type family struct {
	alen         uint32 // address length
	nfproto      uint32 // of the NAT expressions
	saddr, daddr uint32 // offsets in the network header
	ethertype    []byte // meta protocol, in DR
}

var (
	ipv4 = family{alen: 4, nfproto: unix.NFPROTO_IPV4, saddr: 12, daddr: 16, ethertype: []byte{0x08, 0x00}}
	ipv6 = family{alen: 16, nfproto: unix.NFPROTO_IPV6, saddr: 8, daddr: 24, ethertype: []byte{0x86, 0xdd}}
)

func (d *tbl) fam() family {
	if d.v6 {
		return ipv6
	}
	return ipv4
}

// drPrefix matches, in DR, only frames addressed to this host (a standby
// director must not forward frames the bridge floods to it while it learns
// a MAC) of the table's protocol: meta pkttype host meta protocol ip|ip6.
func (d *tbl) drPrefix() []expr.Any {
	if !d.dr {
		return nil
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.PACKET_HOST}},
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: d.fam().ethertype},
	}
}

// loadSvcKey loads meta l4proto . ip(6) <addr at off> . th <port at poff>
// into the registers from reg: the key of the services and pickup maps. It
// returns the next free register.
func (d *tbl) loadSvcKey(addrOff, portOff uint32) ([]expr.Any, uint32) {
	w := d.fam().alen / 4
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Payload{DestRegister: reg + 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: d.fam().alen},
		&expr.Payload{DestRegister: reg + 1 + w, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
	}, reg + 2 + w
}

// dispatchRule: meta l4proto . ip daddr . th dport vmap @services
func (d *tbl) dispatchRule(ch *nftables.Chain) *nftables.Rule {
	e := d.drPrefix()
	key, _ := d.loadSvcKey(d.fam().daddr, 2)
	e = append(e, key...)
	e = append(e, &expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: setServices})
	return &nftables.Rule{Table: d.table, Chain: ch, Exprs: e, UserData: []byte(tagDispatch)}
}

// marksRule: meta mark vmap @marks. It comes first: IPVS too looks up
// fwmark services before the others.
func (d *tbl) marksRule(ch *nftables.Chain) *nftables.Rule {
	e := append(d.drPrefix(),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: reg},
		&expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: setMarks})
	return &nftables.Rule{Table: d.table, Chain: ch, Exprs: e, UserData: []byte(tagMarks)}
}

// classRule is the one rule of a class chain, for example (NAT)
//
//	dnat ip to meta l4proto . ip daddr . th dport . jhash ip saddr mod 61 seed 0x5eed map @slots_src_61_32
//	dnat ip6 to meta mark . numgen inc mod 61 map @slots_numgen_61_128_fwm
//
// and in DR
//
//	ether saddr set <own MAC> ether daddr set meta l4proto . ip daddr . th dport . jhash ip saddr mod 61 seed 0x5eed map @slots_src_61_32 dup to <dev> drop
func (d *tbl) classRule(ch *nftables.Chain, c class, tag string) *nftables.Rule {
	w := d.fam().alen / 4
	var e []expr.Any
	if d.dr {
		// ether saddr set <own MAC>: the switch must not learn the
		// client's MAC on the director's port.
		mac := make([]byte, 8)
		copy(mac, d.ownMAC)
		e = append(e,
			&expr.Immediate{Register: reg, Data: mac},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6})
	}
	// The key: the service's (meta mark, or proto . daddr . dport), then
	// the slot.
	var slot uint32
	if c.Mark {
		e = append(e, &expr.Meta{Key: expr.MetaKeyMARK, Register: reg})
		slot = reg + 1
	} else {
		key, next := d.loadSvcKey(d.fam().daddr, 2)
		e = append(e, key...)
		slot = next
	}
	src := slot + 1 // the hash's input, then the lookup's result
	switch c.Kind {
	case kindNumgen:
		e = append(e, &expr.Numgen{Register: slot, Modulus: c.M, Type: unix.NFT_NG_INCREMENTAL})
	default:
		e = append(e, &expr.Payload{DestRegister: src, Base: expr.PayloadBaseNetworkHeader, Offset: d.fam().saddr, Len: d.fam().alen})
		if bits := int(d.fam().alen) * 8; int(c.Mask) < bits {
			mask := make([]byte, d.fam().alen)
			for i := range int(c.Mask) {
				mask[i/8] |= 0x80 >> (i % 8)
			}
			e = append(e, &expr.Bitwise{SourceRegister: src, DestRegister: src, Len: d.fam().alen, Mask: mask, Xor: make([]byte, d.fam().alen)})
		}
		n := d.fam().alen
		if c.Kind == kindSrcPort {
			e = append(e, &expr.Payload{DestRegister: src + w, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2})
			n += 4
		}
		e = append(e, &expr.Hash{SourceRegister: src, DestRegister: slot, Length: n, Modulus: c.M,
			Seed: d.opt.Seed, Type: expr.HashTypeJenkins})
	}
	e = append(e, &expr.Lookup{SourceRegister: reg, DestRegister: src, IsDestRegSet: true, SetName: classSet(c.name())})
	if d.dr {
		// ether daddr set <slot's MAC> dup to <dev> drop (nft's "fwd to"
		// is not in google/nftables; dup + drop forwards the same frame).
		e = append(e,
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: src, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
			&expr.Counter{},
			&expr.Immediate{Register: reg, Data: binaryutil.NativeEndian.PutUint32(d.ifindex)},
			&expr.Dup{RegAddr: reg, RegDev: reg, IsRegDevSet: true},
			&expr.Verdict{Kind: expr.VerdictDrop},
		)
	} else {
		nat := &expr.NAT{Type: expr.NATTypeDestNAT, Family: d.fam().nfproto, RegAddrMin: src}
		if !c.KeepPort {
			nat.RegProtoMin = src + w
		}
		e = append(e, &expr.Counter{}, nat)
	}
	return &nftables.Rule{Table: d.table, Chain: ch, Exprs: e, UserData: []byte(tag)}
}

// pickupRule is the reply-side pickup rule:
//
//	[oifname "eth0"] snat ip to meta l4proto . ip saddr . th sport map @pickup
func (d *tbl) pickupRule(ch *nftables.Chain) *nftables.Rule {
	var e []expr.Any
	if d.opt.ClientInterface != "" {
		name := make([]byte, 16)
		copy(name, d.opt.ClientInterface)
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name})
	}
	key, val := d.loadSvcKey(d.fam().saddr, 0)
	e = append(e, key...)
	e = append(e,
		&expr.Lookup{SourceRegister: reg, DestRegister: val, IsDestRegSet: true, SetName: setPickup},
		&expr.Counter{},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: d.fam().nfproto, RegAddrMin: val, RegProtoMin: val + d.fam().alen/4},
	)
	return &nftables.Rule{Table: d.table, Chain: ch, Exprs: e, UserData: []byte(pickupTag(d.opt.ClientInterface))}
}
