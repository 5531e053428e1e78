//go:build linux

package nft

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"vigil/lvs"
)

// change is one service that sync rewrites: old nil = new, new nil = gone.
type change struct{ old, new *kSvc }

// sync makes the table match plans in one batch (one transaction), leaving
// the services in keep as they are. It does not modify v, and returns the
// table as it is afterwards (for the cache) and whether it committed
// anything. The batch, in this order:
//
//  1. the table, new chains;
//  2. flush the chains whose rules change or that go, and delete the maps
//     that go or are recreated (a map is created with a capacity, see
//     capacity: one that outgrows it is recreated, with all its elements);
//  3. new maps, element deletions, the changed chains' rules (binding a map
//     before its elements are added spares the kernel a walk of them all),
//     element additions;
//  4. delete the chains that go.
//
// Rules are never addressed by handle (a chain is flushed and refilled
// instead), so the view it returns needs none.
func (d *tbl) sync(v *view, plans []plan, keep map[lvs.ServiceKey]bool) (*view, bool, error) {
	nv := emptyView()
	nv.cached, nv.exists = true, true
	var changes []change
	for _, p := range plans {
		key := p.svc.Key()
		old := v.svcs[key]
		cn := p.class.name()
		chain, set := classChain(cn), classSet(cn)
		tag := svcTag(p.svc)
		if old != nil && v.cached && !d.dr && old.listed && old.tag == tag && old.chain == chain &&
			len(old.slots) == 1 && old.slots[set] != nil && sameWeights(old.weights, p.svc.Reals) {
			// Unchanged since this datapath wrote it (the generation
			// proves nobody else touched it): its slots are a function
			// of what is compared here.
			nv.svcs[key] = old
			continue
		}
		p.fillSlots()
		ns := &kSvc{key: key, listed: true, tag: tag, chain: chain,
			weights: make(map[netip.AddrPort]int, len(p.svc.Reals)), slots: map[string][]string{}}
		for _, r := range p.svc.Reals {
			ns.weights[r.AddrPort()] = r.Weight
		}
		valOf := make([]string, len(p.svc.Reals))
		for j, r := range p.svc.Reals {
			if r.Weight > 0 {
				valOf[j] = string(d.slotValue(p.class, r.AddrPort()))
			}
		}
		vals := make([]string, len(p.idx))
		for i, j := range p.idx {
			if j >= 0 {
				vals[i] = valOf[j]
			}
		}
		ns.slots[set] = vals
		if old != nil && old.equal(ns) {
			nv.svcs[key] = old
			continue
		}
		nv.svcs[key] = ns
		changes = append(changes, change{old, ns})
	}
	for k := range keep {
		// (A service of an older layout, whose element jumps elsewhere
		// than to a class chain, is not kept: its chain goes.)
		if old := v.svcs[k]; old != nil && (!old.listed || isClassChain(old.chain)) {
			nv.svcs[k] = old
		}
	}
	for _, k := range sortedSvcKeys(v.svcs) {
		if nv.svcs[k] == nil {
			changes = append(changes, change{v.svcs[k], nil})
		}
	}
	order := sortedSvcKeys(nv.svcs)
	// The pickup map depends on which services exist and on their real
	// servers' addresses, not on weights or attributes: most changes leave
	// it as it is.
	nv.pickup = v.pickup
	pickupsChanged := !v.cached
	for _, c := range changes {
		pickupsChanged = pickupsChanged || c.old == nil || c.new == nil || c.old.listed != c.new.listed ||
			!maps.EqualFunc(c.old.weights, c.new.weights, func(int, int) bool { return true })
	}
	if pickupsChanged {
		nv.pickup = map[pickupKey]netip.AddrPort{}
		if !d.dr {
			nv.pickup = pickups(nv.services(order))
		}
	}

	// Maps: which exist afterwards, which are created (or recreated).
	count := map[string]int{setPickup: len(nv.pickup)}
	wantSets := map[string]bool{}
	for _, name := range d.baseSets() {
		wantSets[name] = true
	}
	classes := map[string]class{}
	for _, k := range order {
		s := nv.svcs[k]
		if s.listed {
			count[dispatchSet(k)]++
			if cn, ok := classOfChain(s.chain); ok {
				if c, ok := parseClass(cn); ok {
					classes[cn] = c
				}
			}
		}
		count[realsSet(k)] += len(s.weights)
		for name, vals := range s.slots {
			wantSets[name] = true
			for _, val := range vals {
				if val != "" {
					count[name]++
				}
			}
		}
	}
	for cn := range classes {
		wantSets[classSet(cn)] = true
	}
	newSets := map[string]*nftables.Set{}
	for name := range wantSets {
		spec := d.setSpec(name, classOfSet(name))
		if old := v.sets[name]; old != nil && !v.dirty[name] && sameType(old, spec) && fits(old.Size, count[name]) {
			nv.sets[name] = old
			continue
		}
		spec.Size = capacity(count[name])
		newSets[name], nv.sets[name] = spec, spec
	}

	// Chains and their rules.
	wantRules := d.baseRules()
	for cn, c := range classes {
		wantRules[classChain(cn)] = []ruleSpec{d.classRuleSpec(c)}
	}
	var addChains, flush, rewrite, delChains []string
	chainDefs := map[string]*nftables.Chain{}
	for _, c := range d.chains() {
		chainDefs[c.Name] = c
	}
	for name, specs := range wantRules {
		nv.chains[name] = true
		var tags []string
		recreated := false
		for _, r := range specs {
			tags = append(tags, r.tag)
			for _, s := range r.sets {
				recreated = recreated || (newSets[s] != nil && v.sets[s] != nil)
			}
		}
		nv.rules[name] = tags
		if !v.chains[name] {
			addChains = append(addChains, name)
		}
		if v.chains[name] && slices.Equal(v.rules[name], tags) && !recreated {
			continue
		}
		if len(v.rules[name]) > 0 {
			flush = append(flush, name)
		}
		rewrite = append(rewrite, name)
	}
	for name := range v.chains {
		if wantRules[name] == nil {
			delChains = append(delChains, name)
			if len(v.rules[name]) > 0 {
				flush = append(flush, name)
			}
		}
	}

	// Element deletions (they precede every addition in the batch).
	live := func(name string) bool { return nv.sets[name] != nil && newSets[name] == nil } // kept as it is
	dels := map[string][][]byte{}
	for _, c := range changes {
		deletions(dels, c.old, c.new, live)
	}
	if live(setPickup) && pickupsChanged {
		for _, k := range sortedPickupKeys(v.pickup) {
			if vip, ok := nv.pickup[k]; !ok || vip != v.pickup[k] {
				dels[setPickup] = append(dels[setPickup], appendPickupKey(nil, k))
			}
		}
	}

	// The batch.
	n := 0
	if !v.exists {
		d.conn.AddTable(d.table)
		n++
	}
	slices.Sort(addChains)
	for _, name := range addChains {
		c := chainDefs[name]
		if c == nil {
			c = &nftables.Chain{Name: name, Table: d.table}
		}
		d.conn.AddChain(c)
		n++
	}
	slices.Sort(flush)
	for _, name := range flush {
		d.conn.FlushChain(&nftables.Chain{Name: name, Table: d.table})
		n++
	}
	for _, name := range sortedKeys(v.sets) {
		if nv.sets[name] == nil || newSets[name] != nil {
			d.conn.DelSet(v.sets[name])
			n++
		}
	}
	for _, name := range sortedKeys(newSets) {
		if err := d.conn.AddSet(newSets[name], nil); err != nil {
			return nil, false, fmt.Errorf("nft: add map %s: %w", name, err)
		}
		n++
	}
	for _, name := range sortedKeys(dels) {
		q := d.queue(nv.sets[name], true, &n)
		for _, k := range dels[name] {
			q.add(k, "", "", "")
		}
		q.flush()
	}
	slices.Sort(rewrite)
	for _, name := range rewrite {
		c := chainDefs[name]
		if c == nil {
			c = &nftables.Chain{Name: name, Table: d.table}
		}
		for _, r := range wantRules[name] {
			d.conn.AddRule(r.make(c))
			n++
		}
	}
	// Element additions, streamed map by map: a new map gets all its
	// elements, a kept one what changed.
	for _, name := range sortedKeys(nv.sets) {
		q := d.queue(nv.sets[name], false, &n)
		switch {
		case name == setPickup:
			if newSets[name] == nil && !pickupsChanged {
				break
			}
			for _, k := range sortedPickupKeys(nv.pickup) {
				if vip, ok := v.pickup[k]; newSets[name] != nil || !ok || vip != nv.pickup[k] {
					q.add(appendPickupKey(q.scratch[:0], k), string(appendAP(nil, nv.pickup[k])), "", "")
				}
			}
		case newSets[name] != nil:
			for _, k := range order {
				q.additions(name, nil, nv.svcs[k])
			}
		default:
			for _, c := range changes {
				if c.new != nil {
					q.additions(name, c.old, c.new)
				}
			}
		}
		q.flush()
	}
	slices.Sort(delChains)
	for _, name := range delChains {
		d.conn.DelChain(&nftables.Chain{Name: name, Table: d.table})
		n++
	}
	if n == 0 {
		return nv, false, nil
	}
	*d.ops += uint64(n)
	t0 := time.Now()
	if err := d.conn.Flush(); err != nil {
		return nil, false, fmt.Errorf("nft: apply %d changes to table %s: %w", n, d.table.Name, err)
	}
	d.log.Debug("nft: applied", "table", d.table.Name, "messages", n, "took", time.Since(t0))
	return nv, true, nil
}

// equal reports whether two services are programmed identically.
func (k *kSvc) equal(o *kSvc) bool {
	return k.listed == o.listed && k.tag == o.tag && k.chain == o.chain && maps.Equal(k.weights, o.weights) &&
		maps.EqualFunc(k.slots, o.slots, sameSlots)
}

// sameSlots compares two tables of slots; trailing empty slots do not count
// (a table read back ends at its last element).
func sameSlots(a, b []string) bool {
	trim := func(s []string) []string {
		for len(s) > 0 && s[len(s)-1] == "" {
			s = s[:len(s)-1]
		}
		return s
	}
	return slices.Equal(trim(a), trim(b))
}

// services returns the listed services of keys (with their reals, without
// attributes), for the pickup map.
func (v *view) services(keys []lvs.ServiceKey) []lvs.Service {
	var out []lvs.Service
	for _, k := range keys {
		if s := v.svcs[k]; s.listed {
			out = append(out, s.service(lvs.NAT))
		}
	}
	return out
}

// slotValue is what a slots map holds for a real server: its address and
// port, its address alone (fwmark services keeping the port) or its MAC
// address (DR).
func (d *tbl) slotValue(c class, ap netip.AddrPort) []byte {
	switch {
	case d.dr:
		return d.macs[ap.Addr()]
	case c.KeepPort:
		return ap.Addr().AsSlice()
	}
	return appendAP(nil, ap)
}

func dispatchSet(k lvs.ServiceKey) string {
	if k.FWMark != 0 {
		return setMarks
	}
	return setServices
}

func realsSet(k lvs.ServiceKey) string {
	if k.FWMark != 0 {
		return setMReals
	}
	return setReals
}

// sameType reports whether an existing map has the key and data lengths
// of spec (a map of an older layout, or somebody else's, is recreated).
// google/nftables reads a verdict map's key type back as "verdict", so only
// that it is a verdict map can be checked.
func sameType(old, spec *nftables.Set) bool {
	if spec.DataType.Name == nftables.TypeVerdict.Name {
		return old.DataType.Name == nftables.TypeVerdict.Name || old.KeyType.Name == nftables.TypeVerdict.Name
	}
	return old.IsMap && old.KeyType.Bytes == spec.KeyType.Bytes && old.DataType.Bytes == spec.DataType.Bytes
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

// deletions collects the keys to delete to turn o into n (either may be
// nil) in the maps live reports as kept (a map that goes or is recreated
// loses its elements with it).
func deletions(dels map[string][][]byte, o, n *kSvc, live func(string) bool) {
	if o == nil {
		return
	}
	ds, rs := dispatchSet(o.key), realsSet(o.key)
	if o.listed && live(ds) && (n == nil || o.tag != n.tag || o.chain != n.chain) {
		dels[ds] = append(dels[ds], appendSvcKey(nil, o.key))
	}
	if live(rs) {
		for _, ap := range sortedAPs(o.weights) {
			if w, ok := n.weightOf(ap); !ok || w != o.weights[ap] {
				dels[rs] = append(dels[rs], appendRealKey(nil, o.key, ap))
			}
		}
	}
	for _, set := range sortedKeys(o.slots) {
		if !live(set) {
			continue
		}
		nvals := n.slotsIn(set)
		for i, val := range o.slots[set] {
			if val != "" && (i >= len(nvals) || nvals[i] != val) {
				dels[set] = append(dels[set], appendSlotKey(nil, o.key, uint32(i)))
			}
		}
	}
}

// additions queues n's elements of the queue's map that o (nil: nothing)
// lacks or has different.
func (q *elemQueue) additions(set string, o, n *kSvc) {
	switch set {
	case dispatchSet(n.key):
		if n.listed && (o == nil || !o.listed || o.tag != n.tag || o.chain != n.chain) {
			q.add(appendSvcKey(q.scratch[:0], n.key), "", n.chain, n.tag)
		}
	case realsSet(n.key):
		for _, ap := range sortedAPs(n.weights) {
			if w, ok := o.weightOf(ap); !ok || w != n.weights[ap] {
				q.add(appendRealKey(q.scratch[:0], n.key, ap), string(weightBytes(n.weights[ap])), "", "")
			}
		}
	default:
		vals := n.slots[set]
		if vals == nil {
			return
		}
		ovals := o.slotsIn(set)
		faulty := q.faulty != nil && q.faulty(n.key)
		for i, val := range vals {
			if val != "" && (i >= len(ovals) || ovals[i] != val) {
				if faulty {
					val = val[:len(val)-1] // the kernel refuses a value of the wrong length
				}
				q.add(appendSlotKey(q.scratch[:0], n.key, uint32(i)), val, "", "")
			}
		}
	}
}

func (k *kSvc) weightOf(ap netip.AddrPort) (int, bool) {
	if k == nil {
		return 0, false
	}
	w, ok := k.weights[ap]
	return w, ok
}

func (k *kSvc) slotsIn(set string) []string {
	if k == nil {
		return nil
	}
	return k.slots[set]
}

// elemQueue packs the elements of one map into as few messages as fit
// (one message's element list is one netlink attribute: at most 64 KiB).
// google/nftables marshals a message when it is queued, so its buffers are
// reused for the next one.
type elemQueue struct {
	d       *tbl
	set     *nftables.Set
	del     bool
	n       *int
	faulty  func(lvs.ServiceKey) bool
	elems   []nftables.SetElement
	arena   []byte
	size    int
	scratch []byte
}

// maxElemBytes bounds the (over)estimated size of one message's elements.
const maxElemBytes = 60000

func (d *tbl) queue(s *nftables.Set, del bool, n *int) *elemQueue {
	return &elemQueue{d: d, set: s, del: del, n: n, faulty: d.faulty, scratch: make([]byte, 0, 64)}
}

// add queues one element (key and val are copied); chain makes it a goto.
func (q *elemQueue) add(key []byte, val, chain, comment string) {
	if q.arena == nil {
		q.arena = make([]byte, 0, maxElemBytes)
	}
	off := len(q.arena)
	q.arena = append(append(q.arena, key...), val...)
	k := len(key)
	e := nftables.SetElement{Key: q.arena[off : off+k : off+k], Comment: comment}
	if val != "" {
		e.Val = q.arena[off+k : len(q.arena) : len(q.arena)]
	}
	if chain != "" {
		e.VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
	}
	q.elems = append(q.elems, e)
	q.size += 48 + len(key) + len(val) + len(comment) + len(chain)
	if q.size >= maxElemBytes {
		q.flush()
	}
}

func (q *elemQueue) flush() {
	if len(q.elems) == 0 {
		return
	}
	var err error
	if q.del {
		err = q.d.conn.SetDeleteElements(q.set, q.elems)
	} else {
		err = q.d.conn.SetAddElements(q.set, q.elems)
	}
	if err != nil {
		// Only marshalling can fail here; Flush reports it again.
		q.d.log.Error("nft: queue elements", "map", q.set.Name, "err", err)
	}
	*q.n++
	q.elems, q.arena, q.size = q.elems[:0], q.arena[:0], 0
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedSvcKeys(m map[lvs.ServiceKey]*kSvc) []lvs.ServiceKey {
	return slices.SortedFunc(maps.Keys(m), lvs.ServiceKey.Compare)
}

func sortedAPs(m map[netip.AddrPort]int) []netip.AddrPort {
	return slices.SortedFunc(maps.Keys(m), netip.AddrPort.Compare)
}

func sortedPickupKeys(m map[pickupKey]netip.AddrPort) []pickupKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b pickupKey) int {
		if a.Proto != b.Proto {
			return int(a.Proto) - int(b.Proto)
		}
		return a.Real.Compare(b.Real)
	})
}
