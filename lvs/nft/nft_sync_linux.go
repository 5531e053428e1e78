package nft

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"vigil/lvs"
)

// batch accumulates element changes per set.
type batch struct {
	adds, dels map[string][]nftables.SetElement
}

func (b *batch) add(set string, e nftables.SetElement) { b.adds[set] = append(b.adds[set], e) }

func (b *batch) del(set string, key []byte) {
	b.dels[set] = append(b.dels[set], nftables.SetElement{Key: key})
}

// sync makes the table match plans, leaving services in keep as they are.
// It returns the table as it is afterwards (for the cache) and whether it
// committed anything. Rules are never addressed by handle (a chain is
// flushed and refilled instead), so the view it returns needs none.
func (d *tbl) sync(v *view, plans []plan, keep map[lvs.ServiceKey]bool) (*view, bool, error) {
	b := &batch{adds: map[string][]nftables.SetElement{}, dels: map[string][]nftables.SetElement{}}
	nv := &view{cached: true, method: v.method, exists: true, chains: map[string]bool{}, sets: map[string]*nftables.Set{},
		rules: map[string]*nftables.Rule{}, svcs: map[uint32]*kSvc{}, byKey: map[lvs.ServiceKey]*kSvc{}}
	n := 0
	// Table, base chains and the shared maps.
	if !v.exists {
		d.conn.AddTable(d.table)
		n++
	}
	for _, c := range d.chains() {
		if !v.chains[c.Name] {
			d.conn.AddChain(c)
			n++
		}
		nv.chains[c.Name] = true
	}
	newSets := map[string]*nftables.Set{}
	for _, s := range d.baseSets() {
		if v.sets[s.Name] == nil {
			if err := d.conn.AddSet(s, nil); err != nil {
				return nil, false, fmt.Errorf("nft: add set %s: %w", s.Name, err)
			}
			newSets[s.Name] = s
			n++
		}
	}
	shards := map[string]bool{}
	// Services: chains and rules first (the services map refers to them).
	used := map[lvs.ServiceKey]bool{}
	nextID := uint32(1)
	for _, p := range plans {
		key := p.svc.Key()
		used[key] = true
		old := v.byKey[key]
		if old == nil {
			for v.svcs[nextID] != nil {
				nextID++
			}
			old = v.svc(nextID)
		}
		id := old.id
		if sh := shardName(id); !shards[sh] {
			shards[sh] = true
			if v.sets[sh] == nil {
				s := d.shardSet(sh)
				if err := d.conn.AddSet(s, nil); err != nil {
					return nil, false, fmt.Errorf("nft: add set %s: %w", sh, err)
				}
				newSets[sh] = s
				n++
			}
		}
		chain := &nftables.Chain{Name: chainName(id), Table: d.table}
		if !old.chain {
			d.conn.AddChain(chain)
			n++
		}
		rule := d.serviceRule(chain, id, p)
		switch {
		case old.rule == nil:
			d.conn.AddRule(rule)
			n++
		case string(old.rule.UserData) != string(rule.UserData):
			d.conn.FlushChain(chain)
			d.conn.AddRule(rule)
			n += 2
		}
		if v.cached && !d.dr && old.rule != nil && string(old.rule.UserData) == string(rule.UserData) && sameWeights(old.weights, p.svc.Reals) {
			// Unchanged since this datapath wrote it (the generation
			// proves nobody else touched it): its slots are a function
			// of what is compared here.
			nv.svcs[id], nv.byKey[key] = old, old
			nv.chains[chain.Name] = true
			continue
		}
		p.fillSlots()
		ks, err := d.syncService(b, old, key, p)
		if err != nil {
			return nil, false, err
		}
		ks.rule = &nftables.Rule{UserData: rule.UserData}
		nv.svcs[id], nv.byKey[key] = ks, ks
		nv.chains[chain.Name] = true
	}
	var dropChains []uint32
	for id, k := range v.svcs {
		if k.key.Addr.IsValid() && used[k.key] {
			continue
		}
		if k.key.Addr.IsValid() && keep[k.key] {
			nv.svcs[id], nv.byKey[k.key] = k, k
			nv.chains[chainName(id)] = k.chain
			shards[shardName(id)] = true
			continue
		}
		if k.key.Addr.IsValid() && v.byKey[k.key] == k {
			b.del("services", dispatchKey(k.key))
		}
		for ap := range k.weights {
			b.del("weights", weightKey(id, ap))
		}
		for slot := range k.slots {
			b.del(shardName(id), u32(id<<slotBits|slot))
		}
		if k.chain {
			dropChains = append(dropChains, id) // deleting a chain deletes its rule
		}
	}
	// Reply-side pickup (NAT only).
	want := pickups(plans)
	if d.dr {
		want = map[pickupKey]netip.AddrPort{}
	}
	for k, vip := range v.pickup {
		if nv, ok := want[k]; !ok || nv != vip {
			b.del("pickup", pickupKeyBytes(k))
		}
	}
	for k, vip := range want {
		if ov, ok := v.pickup[k]; !ok || ov != vip {
			b.add("pickup", nftables.SetElement{Key: pickupKeyBytes(k), Val: ap4(vip)})
		}
	}
	nv.pickup = want
	// Elements that came out of maps go out in key order, so a batch is a
	// function of its inputs (golden tests; the same messages on every
	// director).
	sortElems(b.adds["pickup"])
	for _, els := range b.dels {
		sortElems(els)
	}
	// Elements: deletions first, then additions, in a fixed set order.
	for _, name := range sortedKeys(b.dels) {
		n += d.queueElems(d.setByName(v, newSets, name), b.dels[name], true)
	}
	for _, name := range sortedKeys(b.adds) {
		n += d.queueElems(d.setByName(v, newSets, name), b.adds[name], false)
	}
	slices.Sort(dropChains)
	for _, id := range dropChains {
		d.conn.DelChain(&nftables.Chain{Name: chainName(id), Table: d.table})
		n++
	}
	for _, name := range sortedKeys(v.sets) {
		s := v.sets[name]
		if isShardName(name) && !shards[name] {
			d.conn.DelSet(s)
			n++
			continue
		}
		nv.sets[name] = s
	}
	for name, s := range newSets {
		nv.sets[name] = s
	}
	// Base rules: dispatch and pickup; a chain whose rule changes is
	// flushed and refilled.
	wantRules := map[string]func() *nftables.Rule{
		"prerouting/" + dispatchTag:    d.dispatchRule,
		"postrouting/" + d.pickupTag(): d.pickupRule,
	}
	if d.dr {
		wantRules = map[string]func() *nftables.Rule{"ingress/" + dispatchTag: d.dispatchRule}
	}
	for _, c := range d.chains() {
		ok := true
		for tag := range v.rules {
			if chainOf(tag) == c.Name && wantRules[tag] == nil {
				ok = false
			}
		}
		for tag := range wantRules {
			if chainOf(tag) == c.Name && v.rules[tag] == nil {
				ok = false
			}
		}
		if ok {
			continue
		}
		if v.chains[c.Name] {
			d.conn.FlushChain(c)
			n++
		}
		for _, tag := range sortedKeys(wantRules) {
			if chainOf(tag) == c.Name {
				d.conn.AddRule(wantRules[tag]())
				n++
			}
		}
	}
	for tag := range wantRules {
		nv.rules[tag] = &nftables.Rule{}
	}
	if n == 0 {
		return nv, false, nil
	}
	*d.ops += uint64(n)
	t0 := time.Now()
	d.log.Debug("nft: queued", "table", d.table.Name, "messages", n)
	defer func() { d.log.Debug("nft: flushed", "table", d.table.Name, "messages", n, "took", time.Since(t0)) }()
	if err := d.conn.Flush(); err != nil {
		return nil, false, fmt.Errorf("nft: apply %d changes to table %s: %w", n, d.table.Name, err)
	}
	return nv, true, nil
}

func sortElems(els []nftables.SetElement) {
	slices.SortFunc(els, func(a, b nftables.SetElement) int { return bytes.Compare(a.Key, b.Key) })
}

func sameWeights(have map[netip.AddrPort]int, want []lvs.Real) bool {
	if len(have) != len(want) {
		return false
	}
	for _, r := range want {
		if w, ok := have[r.AddrPort()]; !ok || w != r.Weight {
			return false
		}
	}
	return true
}

func chainOf(tag string) string {
	c, _, _ := strings.Cut(tag, "/")
	return c
}

func (d *tbl) syncService(b *batch, old *kSvc, key lvs.ServiceKey, p plan) (*kSvc, error) {
	id := old.id
	ks := &kSvc{id: id, key: key, chain: true, method: old.method, weights: make(map[netip.AddrPort]int, len(p.svc.Reals)),
		slots: make(map[uint32]string, len(p.slots))}
	if !old.key.Addr.IsValid() {
		b.add("services", nftables.SetElement{Key: dispatchKey(key),
			VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: chainName(id)}})
	}
	// Weights.
	wantW := map[netip.AddrPort]int{}
	for _, r := range p.svc.Reals {
		wantW[r.AddrPort()] = r.Weight
	}
	for ap, w := range old.weights {
		if nw, ok := wantW[ap]; !ok || nw != w {
			b.del("weights", weightKey(id, ap))
		}
	}
	for _, r := range p.svc.Reals {
		if w, ok := old.weights[r.AddrPort()]; !ok || w != r.Weight {
			b.add("weights", nftables.SetElement{Key: weightKey(id, r.AddrPort()), Val: u32(uint32(r.Weight))})
		}
	}
	// Slots: only those that change.
	vals := make([]string, len(p.slots))
	for i, ap := range p.slots {
		if ap.IsValid() {
			vals[i] = string(d.slotValue(ap))
		}
	}
	for slot, val := range old.slots {
		if int(slot) >= len(vals) || vals[slot] != val {
			b.del(shardName(id), u32(id<<slotBits|slot))
		}
	}
	for i, val := range vals {
		if val == "" {
			continue
		}
		ks.slots[uint32(i)] = val
		if oval, ok := old.slots[uint32(i)]; !ok || oval != val {
			b.add(shardName(id), nftables.SetElement{Key: u32(id<<slotBits | uint32(i)), Val: []byte(val)})
		}
	}
	for _, r := range p.svc.Reals {
		ks.weights[r.AddrPort()] = r.Weight
	}
	return ks, nil
}

// slotValue is what a backends map holds for a real server: its address and
// port (NAT) or its MAC address (DR).
func (d *tbl) slotValue(ap netip.AddrPort) []byte {
	if d.dr {
		return d.macs[ap.Addr()]
	}
	return ap4(ap)
}

func (d *tbl) setByName(v *view, newSets map[string]*nftables.Set, name string) *nftables.Set {
	if s := newSets[name]; s != nil {
		return s
	}
	if s := v.sets[name]; s != nil {
		return s
	}
	// A dispatch map that is gone: deleting from it is moot.
	return nil
}

func (d *tbl) queueElems(s *nftables.Set, elems []nftables.SetElement, del bool) int {
	if s == nil || len(elems) == 0 {
		return 0
	}
	n := 0
	for chunk := range slices.Chunk(elems, maxElemsPerMsg) {
		var err error
		if del {
			err = d.conn.SetDeleteElements(s, chunk)
		} else {
			err = d.conn.SetAddElements(s, chunk)
		}
		if err != nil {
			// Only marshalling can fail here; Flush reports it again.
			d.log.Error("nft: queue elements", "set", s.Name, "err", err)
		}
		n++
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
