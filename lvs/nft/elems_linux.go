//go:build linux

package nft

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"

	"vigil/lvs"
)

// encode renders a syncPlan as the batch's messages, in the order sync's
// doc gives.
func (d *tbl) encode(sp *syncPlan) ([]netlink.Message, error) {
	v, nv := sp.v, sp.nv
	t, err := newTxn()
	if err != nil {
		return nil, err
	}
	rec := t.rec
	if !v.exists {
		rec.AddTable(d.table)
	}
	for _, name := range sp.addChains {
		rec.AddChain(sp.chain(d, name))
	}
	for _, name := range sp.flush {
		rec.FlushChain(&nftables.Chain{Name: name, Table: d.table})
	}
	for _, name := range sortedKeys(v.sets) {
		if nv.sets[name] == nil || sp.newSets[name] != nil {
			rec.DelSet(v.sets[name])
		}
	}
	for _, name := range sortedKeys(sp.newSets) {
		if err := rec.AddSet(sp.newSets[name], nil); err != nil {
			return nil, fmt.Errorf("nft: add map %s: %w", name, err)
		}
	}
	if err := t.take(); err != nil {
		return nil, err
	}
	// Element deletions, from the maps that stay as they are (a map that
	// goes or is recreated loses its elements with it).
	live := func(name string) bool { return nv.sets[name] != nil && sp.newSets[name] == nil }
	dels := map[string][][]byte{}
	for _, c := range sp.changes {
		deletions(dels, c.old, c.new, live)
	}
	if live(setPickup) && sp.pickupsChanged {
		for _, k := range sortedPickupKeys(v.pickup) {
			if vip, ok := nv.pickup[k]; !ok || vip != v.pickup[k] {
				dels[setPickup] = append(dels[setPickup], appendPickupKey(nil, k))
			}
		}
	}
	for _, name := range sortedKeys(dels) {
		q := d.queue(t, nv.sets[name], true)
		for _, k := range dels[name] {
			q.add(k, "", "", "")
		}
		q.flush()
	}
	for _, name := range sp.rewrite {
		for _, r := range sp.wantRules[name] {
			rec.AddRule(r.make(sp.chain(d, name)))
		}
	}
	if err := t.take(); err != nil {
		return nil, err
	}
	// Element additions: a new map gets all its elements, a kept one what
	// changed; one pass over the services, each map's elements packed
	// into as few messages as fit.
	qs := map[string]*elemQueue{}
	queue := func(name string) *elemQueue {
		if qs[name] == nil {
			qs[name] = d.queue(t, nv.sets[name], false)
		}
		return qs[name]
	}
	if sp.newSets[setPickup] != nil || (nv.sets[setPickup] != nil && sp.pickupsChanged) {
		q := queue(setPickup)
		for _, k := range sortedPickupKeys(nv.pickup) {
			if vip, ok := v.pickup[k]; sp.newSets[setPickup] != nil || !ok || vip != nv.pickup[k] {
				q.add(appendPickupKey(q.scratch[:0], k), string(appendAP(nil, nv.pickup[k])), "", "")
			}
		}
	}
	olds := make(map[lvs.ServiceKey]*kSvc, len(sp.changes))
	keys := make([]lvs.ServiceKey, 0, len(sp.changes))
	for _, c := range sp.changes {
		if c.new != nil {
			olds[c.new.key] = c.old
			keys = append(keys, c.new.key)
		}
	}
	if len(sp.newSets) > 0 {
		keys = sp.order // a new map may need any service's elements
	}
	for _, k := range keys {
		n := nv.svcs[k]
		o, changed := olds[k]
		sets := []string{dispatchSet(k), realsSet(k)}
		for set := range n.slots {
			sets = append(sets, set)
		}
		for _, set := range sets {
			switch {
			case sp.newSets[set] != nil:
				queue(set).additions(set, nil, n)
			case changed && nv.sets[set] != nil:
				queue(set).additions(set, o, n)
			}
		}
	}
	for _, name := range sortedKeys(qs) {
		qs[name].flush()
	}
	for _, name := range sp.delChains {
		rec.DelChain(&nftables.Chain{Name: name, Table: d.table})
	}
	if err := t.take(); err != nil {
		return nil, err
	}
	return t.msgs, nil
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

// elemQueue packs the elements of one map into as few messages as fit.
type elemQueue struct {
	t       *txn
	set     *nftables.Set
	del     bool
	faulty  func(lvs.ServiceKey) bool
	msg     *elemMsg
	scratch []byte
}

func (d *tbl) queue(t *txn, s *nftables.Set, del bool) *elemQueue {
	return &elemQueue{t: t, set: s, del: del, faulty: d.faulty, scratch: make([]byte, 0, 64)}
}

// add queues one element; a non-empty chain makes it a goto.
func (q *elemQueue) add(key []byte, val, chain, comment string) {
	if q.msg != nil && !q.msg.room(len(key)+len(val)+len(chain)+len(comment)) {
		q.flush()
	}
	if q.msg == nil {
		q.msg = newElemMsg(q.set, q.del, make([]byte, 0, maxListBytes+512))
	}
	q.msg.add(key, val, chain, comment)
}

func (q *elemQueue) flush() {
	if q.msg != nil {
		q.t.msgs = append(q.t.msgs, q.msg.message())
		q.msg = nil
	}
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
