package nftfence

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Fence is the nftables self-fence of one network namespace (the one the
// calling thread is in when New runs).
type Fence struct {
	mu   sync.Mutex
	conn *nftables.Conn
	fams map[nftables.TableFamily]*family
	vips map[netip.Addr]bool
}

type family struct {
	table      *nftables.Table
	vips, held *nftables.Set
}

// New installs the fence for vips, replacing any fence a previous run
// left: every VIP starts not held, so nothing answers for any of them
// until Set says so.
func New(vips []netip.Addr) (*Fence, error) {
	// A lasting connection keeps one socket, opened here in the caller's
	// namespace; a plain one would dial again on every Flush, in whatever
	// namespace that thread is then.
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nftfence: open netlink: %w", err)
	}
	f := &Fence{conn: c, fams: map[nftables.TableFamily]*family{}, vips: map[netip.Addr]bool{}}
	// Remove the tables of an earlier run first (ignore "not found"), in a
	// batch of their own, so the new ones start empty.
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyARP, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		c.DelTable(&nftables.Table{Family: fam, Name: Table})
		_ = c.Flush()
	}
	if err := f.setVIPs(vips); err != nil {
		_ = c.CloseLasting()
		return nil, fmt.Errorf("nftfence: install fence tables: %w", err)
	}
	return f, nil
}

// SetVIPs replaces the VIPs the fence guards (a live configuration change
// added or removed some): a new VIP is fenced from now on, not held until
// Set says so; a VIP left out is no longer fenced, and should no longer be
// on any interface. One batch per call.
func (f *Fence) SetVIPs(vips []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.setVIPs(vips); err != nil {
		return fmt.Errorf("nftfence: set VIPs: %w", err)
	}
	return nil
}

func (f *Fence) setVIPs(vips []netip.Addr) error {
	want := map[netip.Addr]bool{}
	add := map[nftables.TableFamily][]nftables.SetElement{}
	for _, a := range vips {
		a = a.Unmap()
		want[a] = true
		if f.vips[a] {
			continue
		}
		el := nftables.SetElement{Key: a.AsSlice()}
		for _, fam := range families(a) {
			add[fam] = append(add[fam], el)
		}
	}
	del := map[nftables.TableFamily][]nftables.SetElement{}
	for a := range f.vips {
		if !want[a] {
			for _, fam := range families(a) {
				del[fam] = append(del[fam], nftables.SetElement{Key: a.AsSlice()})
			}
		}
	}
	var added []nftables.TableFamily
	undo := func(err error) error {
		for _, fam := range added {
			delete(f.fams, fam) // not in the kernel: the batch failed
		}
		return err
	}
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyARP, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		fa := f.fams[fam]
		switch {
		case fa == nil && len(add[fam]) > 0:
			added = append(added, fam)
			if err := f.addFamily(fam, add[fam]); err != nil {
				return undo(err)
			}
		case fa != nil:
			if len(add[fam]) > 0 {
				if err := f.conn.SetAddElements(fa.vips, add[fam]); err != nil {
					return undo(err)
				}
			}
			if len(del[fam]) > 0 {
				if err := f.conn.SetDeleteElements(fa.vips, del[fam]); err != nil {
					return undo(err)
				}
			}
		}
	}
	if err := f.conn.Flush(); err != nil {
		return undo(err)
	}
	f.vips = want
	return nil
}

// families are the fence's tables that guard a.
func families(a netip.Addr) []nftables.TableFamily {
	if a.Is4() {
		return []nftables.TableFamily{nftables.TableFamilyARP, nftables.TableFamilyIPv4}
	}
	return []nftables.TableFamily{nftables.TableFamilyIPv6}
}

// addFamily adds the table of fam with its sets and rules to the batch.
func (f *Fence) addFamily(fam nftables.TableFamily, vips []nftables.SetElement) error {
	switch fam {
	case nftables.TableFamilyARP:
		fa, err := f.addTable(fam, nftables.TypeIPAddr, vips)
		if err != nil {
			return err
		}
		// ARP over Ethernet/IPv4: ptype 0x0800, hlen 6, plen 4; the
		// sender IP is at offset 14.
		// The arp family numbers its hooks on their own: NF_ARP_OUT is 1.
		f.rule(fa, "output", nftables.ChainHookRef(1), 0, 14, 4,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 2, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x08, 0x00, 6, 4}})
	case nftables.TableFamilyIPv4:
		fa, err := f.addTable(fam, nftables.TypeIPAddr, vips)
		if err != nil {
			return err
		}
		f.ipRules(fa, 16, 12, 4)
	default:
		fa, err := f.addTable(fam, nftables.TypeIP6Addr, vips)
		if err != nil {
			return err
		}
		f.ipRules(fa, 24, 8, 16)
	}
	return nil
}

func (f *Fence) addTable(fam nftables.TableFamily, key nftables.SetDatatype, vips []nftables.SetElement) (*family, error) {
	t := f.conn.AddTable(&nftables.Table{Family: fam, Name: Table})
	fa := &family{table: t,
		vips: &nftables.Set{Table: t, Name: "vips", KeyType: key},
		held: &nftables.Set{Table: t, Name: "held", KeyType: key, HasTimeout: true},
	}
	if err := f.conn.AddSet(fa.vips, vips); err != nil {
		return nil, fmt.Errorf("nftfence: add set vips: %w", err)
	}
	if err := f.conn.AddSet(fa.held, nil); err != nil {
		return nil, fmt.Errorf("nftfence: add set held: %w", err)
	}
	f.fams[fam] = fa
	return fa, nil
}

// ipRules drops packets to (prerouting) and from (output, postrouting) a
// VIP that is not held. dst and src are the header offsets of the
// addresses, n their length.
func (f *Fence) ipRules(fa *family, dst, src, n uint32) {
	f.rule(fa, "prerouting", nftables.ChainHookPrerouting, *nftables.ChainPriorityRaw, dst, n)
	f.rule(fa, "output", nftables.ChainHookOutput, *nftables.ChainPriorityRaw, src, n)
	// After source NAT (priority 100), where a forwarded reply leaves as
	// the VIP.
	f.rule(fa, "postrouting", nftables.ChainHookPostrouting, 300, src, n)
}

// rule adds a base chain with one rule: [guard...] addr in @vips, addr not
// in @held: drop.
func (f *Fence) rule(fa *family, name string, hook *nftables.ChainHook, prio nftables.ChainPriority, off, n uint32, guard ...expr.Any) {
	accept := nftables.ChainPolicyAccept
	ch := f.conn.AddChain(&nftables.Chain{
		Name: name, Table: fa.table, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityRef(prio), Policy: &accept,
	})
	exprs := append([]expr.Any{}, guard...)
	exprs = append(exprs,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: fa.vips.Name, SetID: fa.vips.ID},
		&expr.Lookup{SourceRegister: 1, SetName: fa.held.Name, SetID: fa.held.ID, Invert: true},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
	f.conn.AddRule(&nftables.Rule{Table: fa.table, Chain: ch, Exprs: exprs})
}

// Set makes held the VIPs this node may answer for, each until its lease
// end (plus Slack) as seen at now, in one atomic batch. A hold whose end
// has passed is left out: it is not held.
//
// The kernel counts each timeout from when it receives the batch, not from
// now: a process paused between reading the clock and sending would give
// an element a longer life than its lease. Set therefore reads the clock
// again when the batch returns and, if more than Slack/2 went by, sends
// it again with timeouts from the new reading, shortening them at once
// (a few times at most: on a machine too slow for that the lease is too
// short for it anyway, and the error says so).
func (f *Fence) Set(now time.Time, held []Held) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range 3 {
		if err := f.set(now, held); err != nil {
			return err
		}
		after := time.Now()
		if after.Sub(now) <= Slack/2 {
			return nil
		}
		now = after
	}
	return fmt.Errorf("nftfence: each update took more than %v: the fence cannot keep to the lease", Slack/2)
}

func (f *Fence) set(now time.Time, held []Held) error {
	els := map[nftables.TableFamily][]nftables.SetElement{}
	for _, h := range held {
		a := h.Addr.Unmap()
		if !f.vips[a] {
			return fmt.Errorf("nftfence: set %s: %w", a, ErrNotOwned)
		}
		left := h.Until.Sub(now) + Slack
		if h.Until.Sub(now) <= 0 {
			continue
		}
		// The kernel keeps timeouts in milliseconds: round up.
		left = left.Truncate(time.Millisecond) + time.Millisecond
		el := nftables.SetElement{Key: a.AsSlice(), Timeout: left}
		if a.Is4() {
			els[nftables.TableFamilyARP] = append(els[nftables.TableFamilyARP], el)
			els[nftables.TableFamilyIPv4] = append(els[nftables.TableFamilyIPv4], el)
		} else {
			els[nftables.TableFamilyIPv6] = append(els[nftables.TableFamilyIPv6], el)
		}
	}
	for fam, fa := range f.fams {
		f.conn.FlushSet(fa.held)
		if e := els[fam]; len(e) > 0 {
			if err := f.conn.SetAddElements(fa.held, e); err != nil {
				return fmt.Errorf("nftfence: set held VIPs: %w", err)
			}
		}
	}
	if err := f.conn.Flush(); err != nil {
		return fmt.Errorf("nftfence: set held VIPs: %w", err)
	}
	return nil
}

// Close removes the fence's tables: nothing is fenced afterwards. An
// agent that stops releases its VIPs first, so this opens nothing up.
func (f *Fence) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, fa := range f.fams {
		f.conn.DelTable(fa.table)
		if err := f.conn.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	f.fams = nil
	if err := f.conn.CloseLasting(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
