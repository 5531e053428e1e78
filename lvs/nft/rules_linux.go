//go:build linux

package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// 32-bit registers (NFT_REG32_00 is 8).
const (
	reg0 = 8 + iota
	reg1
	reg2
	reg3
	reg4
	reg5
)

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

func (d *tbl) baseSets() []*nftables.Set {
	if d.dr {
		return []*nftables.Set{
			{Table: d.table, Name: "services", IsMap: true, KeyType: typeDispatchKey, DataType: nftables.TypeVerdict},
			{Table: d.table, Name: "weights", IsMap: true, KeyType: typeWeightKey, DataType: nftables.TypeMark},
		}
	}
	return []*nftables.Set{
		{Table: d.table, Name: "services", IsMap: true, KeyType: typeDispatchKey, DataType: nftables.TypeVerdict},
		{Table: d.table, Name: "weights", IsMap: true, KeyType: typeWeightKey, DataType: nftables.TypeMark},
		{Table: d.table, Name: "pickup", IsMap: true, KeyType: typeDispatchKey, DataType: typeAddrPort},
	}
}

// shardSet is one of the backends maps. The kernel checks every element
// added to a map against every rule bound to it, and every rule binding it
// against its elements, so one map shared by all services costs
// slots × services; sharding divides that by the number of shards.
func (d *tbl) shardSet(name string) *nftables.Set {
	dt := typeAddrPort
	if d.dr {
		dt = nftables.TypeEtherAddr
	}
	return &nftables.Set{Table: d.table, Name: name, IsMap: true, KeyType: nftables.TypeInteger, DataType: dt,
		KeyByteOrder: binaryutil.NativeEndian}
}

// dispatchTag is the dispatch rule's user data.
const dispatchTag = "vigil dispatch"

func (d *tbl) pickupTag() string { return "vigil pickup oif=" + d.opt.ClientInterface }

// loadKey loads meta l4proto . ip <addr at off> . th <port at poff> into
// reg0..reg2, the 12-byte key of the services and pickup maps.
func loadKey(addrOff, portOff uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg0},
		&expr.Payload{DestRegister: reg0 + 1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: 4},
		&expr.Payload{DestRegister: reg0 + 2, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
	}
}

// dispatchRule: meta l4proto . ip daddr . th dport vmap @services
//
// DR adds, first: meta pkttype host meta protocol ip (a standby director
// must not forward frames the bridge floods to it while it learns a MAC).
func (d *tbl) dispatchRule() *nftables.Rule {
	var e []expr.Any
	if d.dr {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.PACKET_HOST}},
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x08, 0x00}})
	}
	e = append(e, loadKey(16, 2)...)
	e = append(e, &expr.Lookup{SourceRegister: reg0, DestRegister: 0, IsDestRegSet: true, SetName: "services"})
	return &nftables.Rule{Table: d.table, Chain: d.chains()[0], Exprs: e, UserData: []byte(dispatchTag)}
}

// serviceRule is the one rule of a service's chain, for example
//
//	dnat ip to jhash ip saddr mod 61 seed 0x5eed offset 16384 map @backends
//
// Its user data records the service's attributes and everything the rule
// encodes, so Read reports them and a change replaces the rule.
func (d *tbl) serviceRule(chain *nftables.Chain, id uint32, p plan) *nftables.Rule {
	c := p.class
	base := id << slotBits
	var e []expr.Any
	switch c.Kind {
	case kindNumgen:
		e = append(e, &expr.Numgen{Register: reg0, Modulus: c.M, Type: unix.NFT_NG_INCREMENTAL, Offset: base})
	default:
		e = append(e, &expr.Payload{DestRegister: reg2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4})
		if c.Mask < 32 {
			m := ^uint32(0) << (32 - uint32(c.Mask))
			e = append(e, &expr.Bitwise{SourceRegister: reg2, DestRegister: reg2, Len: 4,
				Mask: []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}, Xor: []byte{0, 0, 0, 0}})
		}
		n := uint32(4)
		if c.Kind == kindSrcPort {
			e = append(e, &expr.Payload{DestRegister: reg3, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2})
			n = 8
		}
		e = append(e, &expr.Hash{SourceRegister: reg2, DestRegister: reg0, Length: n, Modulus: c.M,
			Seed: d.opt.Seed, Offset: base, Type: expr.HashTypeJenkins})
	}
	if d.dr {
		// ether saddr set <own MAC> ether daddr set <slot's MAC> dup to <dev>; drop
		// (nft's "fwd to" is not in google/nftables; dup + drop forwards the same frame).
		mac := make([]byte, 8)
		copy(mac, d.ownMAC)
		e = append([]expr.Any{
			&expr.Immediate{Register: reg4, Data: mac},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg4, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		}, e...)
		e = append(e,
			&expr.Lookup{SourceRegister: reg0, DestRegister: reg4, IsDestRegSet: true, SetName: shardName(id)},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: reg4, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
			&expr.Counter{},
			&expr.Immediate{Register: reg2, Data: binaryutil.NativeEndian.PutUint32(d.ifindex)},
			&expr.Dup{RegAddr: reg2, RegDev: reg2, IsRegDevSet: true},
			&expr.Verdict{Kind: expr.VerdictDrop},
		)
	} else {
		e = append(e,
			&expr.Lookup{SourceRegister: reg0, DestRegister: reg4, IsDestRegSet: true, SetName: shardName(id)},
			&expr.Counter{},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg4, RegProtoMin: reg5},
		)
	}
	tag := d.opt.tag(p)
	if d.dr {
		tag += fmt.Sprintf(" mac=%s if=%d", d.ownMAC, d.ifindex)
	}
	return &nftables.Rule{Table: d.table, Chain: chain, Exprs: e, UserData: []byte(tag)}
}

// pickupRule is the reply-side pickup rule:
//
//	[oifname "eth0"] snat ip to meta l4proto . ip saddr . th sport map @pickup
func (d *tbl) pickupRule() *nftables.Rule {
	var e []expr.Any
	if d.opt.ClientInterface != "" {
		name := make([]byte, 16)
		copy(name, d.opt.ClientInterface)
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name})
	}
	e = append(e, loadKey(12, 0)...) // ip saddr, th sport
	e = append(e,
		&expr.Lookup{SourceRegister: reg0, DestRegister: reg4, IsDestRegSet: true, SetName: "pickup"},
		&expr.Counter{},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg4, RegProtoMin: reg5},
	)
	return &nftables.Rule{Table: d.table, Chain: d.chains()[1], Exprs: e, UserData: []byte(d.pickupTag())}
}
