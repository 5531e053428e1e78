//go:build linux

package nft

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"vigil/lvs"
)

// tbl is one of the datapath's four tables: NAT services in family ip (IPv4)
// and ip6 (IPv6), DR services in two netdev tables (one per address family).
type tbl struct {
	opt    Options
	conn   *nftables.Conn                // reads, deleting the table
	send   func([]netlink.Message) error // a batch, in one transaction
	log    *slog.Logger
	ops    *uint64
	table  *nftables.Table
	dr, v6 bool
	// DR only, set per Apply: the ingress device and this director's MAC.
	ifindex uint32
	ownMAC  net.HardwareAddr
	macs    map[netip.Addr]net.HardwareAddr
	// cache is the table as this datapath last left it; nil = read it.
	cache *view
	// faulty, set by tests, makes the kernel refuse the elements of the
	// services it returns true for (a value of the wrong length).
	faulty func(lvs.ServiceKey) bool
}

func (d *tbl) method() lvs.Method {
	if d.dr {
		return lvs.DR
	}
	return lvs.NAT
}

// kSvc is one service as found in (or written to) the kernel. Once in a
// view it is never modified: views share them.
type kSvc struct {
	key     lvs.ServiceKey
	listed  bool   // it has an element in the services (marks) map
	tag     string // that element's comment: the attributes
	chain   string // the chain its element jumps to (c_<class>)
	weights map[netip.AddrPort]int
	slots   map[string][]string // slots map name -> value per slot ("" = none)
}

func (k *kSvc) service(m lvs.Method) lvs.Service {
	s := lvs.Service{Proto: k.key.Proto, Addr: k.key.Addr, Port: k.key.Port, FWMark: k.key.FWMark, Scheduler: "?"}
	if a, ok := parseTag(k.tag); ok {
		s.Scheduler, s.Flags = a.sched, a.flags
		s.PersistenceTimeout, s.PersistenceNetmask = a.timeout, a.netmask
	}
	for ap, w := range k.weights {
		s.Reals = append(s.Reals, lvs.Real{Addr: ap.Addr(), Port: ap.Port(), Weight: w, Method: m})
	}
	return s
}

// view is a table as read from the kernel, or as sync left it.
type view struct {
	cached bool // built by sync from what it wrote, not read from the kernel
	exists bool
	chains map[string]bool
	rules  map[string][]string // chain -> its rules' tags, in order
	sets   map[string]*nftables.Set
	dirty  map[string]bool // sets holding elements this package did not write
	svcs   map[lvs.ServiceKey]*kSvc
	pickup map[pickupKey]netip.AddrPort
}

func emptyView() *view {
	return &view{chains: map[string]bool{}, rules: map[string][]string{}, sets: map[string]*nftables.Set{},
		dirty: map[string]bool{}, svcs: map[lvs.ServiceKey]*kSvc{}, pickup: map[pickupKey]netip.AddrPort{}}
}

func (v *view) svc(k lvs.ServiceKey) *kSvc {
	s := v.svcs[k]
	if s == nil {
		s = &kSvc{key: k, weights: map[netip.AddrPort]int{}, slots: map[string][]string{}}
		v.svcs[k] = s
	}
	return s
}

// state returns the services the view lists, in canonical order.
func (v *view) state(m lvs.Method) []lvs.Service {
	var st lvs.State
	for _, k := range v.svcs {
		if k.listed {
			st.Services = append(st.Services, k.service(m))
		}
	}
	return st.Canonical().Services
}

func (d *tbl) read() (*view, error) {
	v := emptyView()
	if _, err := d.conn.ListTableOfFamily(d.table.Name, d.table.Family); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return v, nil
		}
		return nil, fmt.Errorf("nft: list table %s: %w", d.table.Name, err)
	}
	v.exists = true
	chains, err := d.conn.ListChainsOfTableFamily(d.table.Family)
	if err != nil {
		return nil, fmt.Errorf("nft: list chains: %w", err)
	}
	for _, c := range chains {
		if c.Table.Name != d.table.Name {
			continue
		}
		v.chains[c.Name] = true
		c.Table = d.table
		rules, err := d.conn.GetRules(d.table, c)
		if err != nil {
			return nil, fmt.Errorf("nft: list rules of %s: %w", c.Name, err)
		}
		tags := []string{}
		for _, r := range rules {
			tags = append(tags, string(r.UserData))
		}
		v.rules[c.Name] = tags
	}
	sets, err := d.conn.GetSets(d.table)
	if err != nil {
		return nil, fmt.Errorf("nft: list sets: %w", err)
	}
	alen := int(d.fam().alen)
	for _, s := range sets {
		s.Table = d.table
		v.sets[s.Name] = s
		elems, err := d.conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("nft: list elements of %s: %w", s.Name, err)
		}
		for _, e := range elems {
			if !v.decode(s.Name, e, alen) {
				v.dirty[s.Name] = true
			}
		}
	}
	return v, nil
}

// decode adds one element of set name to the view; false if it is not one
// this package writes.
func (v *view) decode(name string, e nftables.SetElement, alen int) bool {
	mreals, reals := isRealsSet(name)
	switch {
	case name == setServices || name == setMarks:
		k, ok := decodeSvcKey(e.Key, alen)
		if !ok || (k.FWMark != 0) != (name == setMarks) {
			return false
		}
		s := v.svc(k)
		s.listed, s.tag = true, e.Comment
		s.chain = verdictChain(e.Val)
	case reals:
		k, ap, ok := decodeRealKey(e.Key, alen)
		w, ok2 := decodeWeight(e.Val)
		if !ok || !ok2 || (k.FWMark != 0) != mreals || realsSet(k) != name {
			return false
		}
		v.svc(k).weights[ap] = w
	case name == setPickup:
		k, ok := decodePickupKey(e.Key, alen)
		ap, ok2 := decodeAP(e.Val, alen)
		if !ok || !ok2 {
			return false
		}
		v.pickup[k] = ap
	default:
		k, slot, ok := decodeSlotKey(e.Key, alen)
		if !ok || !strings.HasPrefix(name, slotsPrefix) || slot >= TableSizes[len(TableSizes)-1] {
			return false
		}
		s := v.svc(k)
		vals := s.slots[name]
		if int(slot) >= len(vals) {
			vals = slices.Grow(vals, int(slot)+1-len(vals))[:slot+1]
		}
		vals[slot] = string(e.Val)
		s.slots[name] = vals
	}
	return true
}

// verdictChain decodes the chain of a goto/jump verdict as GetSetElements
// returns it (the nested NFTA_VERDICT_* attributes).
func verdictChain(b []byte) string {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return ""
	}
	var chain string
	for ad.Next() {
		if ad.Type() == unix.NFTA_VERDICT_CHAIN {
			chain = ad.String()
		}
	}
	return chain
}
