//go:build linux

package nft

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"

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
	sp := &syncPlan{v: v, nv: emptyView()}
	sp.nv.cached, sp.nv.exists = true, true
	d.planServices(sp, plans, keep)
	d.planMaps(sp)
	d.planChains(sp)
	msgs, err := d.encode(sp)
	if err != nil {
		return nil, false, err
	}
	if len(msgs) == 0 {
		return sp.nv, false, nil
	}
	*d.ops += uint64(len(msgs))
	t0 := time.Now()
	if err := d.send(msgs); err != nil {
		return nil, false, fmt.Errorf("nft: apply %d changes to table %s: %w", len(msgs), d.table.Name, err)
	}
	d.log.Debug("nft: applied", "table", d.table.Name, "messages", len(msgs), "took", time.Since(t0))
	return sp.nv, true, nil
}

// syncPlan is what sync works out, step by step, before it encodes the
// batch.
type syncPlan struct {
	v, nv          *view
	changes        []change         // services rewritten, in canonical order, then those that go
	order          []lvs.ServiceKey // nv's services, in canonical order
	pickupsChanged bool
	newSets        map[string]*nftables.Set // created (or recreated) in this batch
	classes        map[string]class         // the classes in use, by name
	planned        map[string]bool          // the classes of the plans
	wantRules      map[string][]ruleSpec    // every chain afterwards, with its rules
	chainDefs      map[string]*nftables.Chain
	addChains      []string // chains to create
	flush          []string // chains whose rules go (rewritten or deleted)
	rewrite        []string // chains whose rules are (re)added
	delChains      []string // chains to delete
}

// planServices works out the services afterwards and what changes.
func (d *tbl) planServices(sp *syncPlan, plans []plan, keep map[lvs.ServiceKey]bool) {
	v, nv := sp.v, sp.nv
	sp.planned = map[string]bool{}
	for _, p := range plans {
		key := p.svc.Key()
		old := v.svcs[key]
		cn := p.class.name()
		sp.planned[cn] = true
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
		ns := d.kSvcOf(p)
		if old != nil && old.equal(ns) {
			nv.svcs[key] = old
			continue
		}
		nv.svcs[key] = ns
		sp.changes = append(sp.changes, change{old, ns})
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
			sp.changes = append(sp.changes, change{v.svcs[k], nil})
		}
	}
	sp.order = sortedSvcKeys(nv.svcs)
	// The pickup map depends on which services exist and on their real
	// servers' addresses, not on weights or attributes: most changes leave
	// it as it is.
	nv.pickup = v.pickup
	sp.pickupsChanged = !v.cached
	for _, c := range sp.changes {
		sp.pickupsChanged = sp.pickupsChanged || c.old == nil || c.new == nil || c.old.listed != c.new.listed ||
			!maps.EqualFunc(c.old.weights, c.new.weights, func(int, int) bool { return true })
	}
	if sp.pickupsChanged {
		nv.pickup = map[pickupKey]netip.AddrPort{}
		if !d.dr {
			nv.pickup = pickups(nv.services(sp.order))
		}
	}
}

// kSvcOf renders a plan as the kernel will hold it.
func (d *tbl) kSvcOf(p plan) *kSvc {
	p.fillSlots()
	cn := p.class.name()
	ns := &kSvc{key: p.svc.Key(), listed: true, tag: svcTag(p.svc), chain: classChain(cn),
		weights: make(map[netip.AddrPort]int, len(p.svc.Reals)), slots: map[string][]string{}}
	valOf := make([]string, len(p.svc.Reals)) // one string per real server, shared by its slots
	for j, r := range p.svc.Reals {
		ns.weights[r.AddrPort()] = r.Weight
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
	ns.slots[classSet(cn)] = vals
	return ns
}

// planMaps works out the maps afterwards, and which are created: a map
// that is missing, not of this layout, or whose capacity does not fit
// its elements any more.
func (d *tbl) planMaps(sp *syncPlan) {
	v, nv := sp.v, sp.nv
	count := map[string]int{setPickup: len(nv.pickup)}
	want := map[string]bool{}
	for _, name := range d.baseSets() {
		want[name] = true
	}
	sp.classes = map[string]class{}
	for _, k := range sp.order {
		s := nv.svcs[k]
		if s.listed {
			count[dispatchSet(k)]++
			if cn, ok := classOfChain(s.chain); ok {
				if c, ok := parseClass(cn); ok {
					sp.classes[cn] = c
				}
			}
		}
		if len(s.weights) > 0 {
			want[realsSet(k)] = true
			count[realsSet(k)] += len(s.weights)
		}
		for name, vals := range s.slots {
			want[name] = true
			for _, val := range vals {
				if val != "" {
					count[name]++
				}
			}
		}
	}
	for cn := range sp.classes {
		want[classSet(cn)] = true
	}
	sp.newSets = map[string]*nftables.Set{}
	for name := range want {
		spec := d.setSpec(name, classOfSet(name))
		if old := v.sets[name]; old != nil && !v.dirty[name] && sameType(old, spec) && fits(old.Size, count[name]) {
			nv.sets[name] = old
			continue
		}
		spec.Size = capacity(count[name])
		sp.newSets[name], nv.sets[name] = spec, spec
	}
}

// planChains works out the chains afterwards and which to create, flush,
// fill and delete: a chain whose rules differ from the wanted ones, or
// bind a recreated map, is flushed and refilled.
func (d *tbl) planChains(sp *syncPlan) {
	v, nv := sp.v, sp.nv
	sp.wantRules = d.baseRules()
	for cn, c := range sp.classes {
		r := d.classRuleSpec(c)
		if old := v.rules[classChain(cn)]; d.dr && !sp.planned[cn] && len(old) == 1 {
			// Only services left as they are use this DR class: its rule
			// stays too (this Apply may not know the interface's MAC).
			r.tag = old[0]
		}
		sp.wantRules[classChain(cn)] = []ruleSpec{r}
	}
	sp.chainDefs = map[string]*nftables.Chain{}
	for _, c := range d.chains() {
		sp.chainDefs[c.Name] = c
	}
	for name, specs := range sp.wantRules {
		nv.chains[name] = true
		var tags []string
		recreated := false
		for _, r := range specs {
			tags = append(tags, r.tag)
			for _, s := range r.sets {
				recreated = recreated || (sp.newSets[s] != nil && v.sets[s] != nil)
			}
		}
		nv.rules[name] = tags
		if !v.chains[name] {
			sp.addChains = append(sp.addChains, name)
		}
		if v.chains[name] && slices.Equal(v.rules[name], tags) && !recreated {
			continue
		}
		if len(v.rules[name]) > 0 {
			sp.flush = append(sp.flush, name)
		}
		sp.rewrite = append(sp.rewrite, name)
	}
	for name := range v.chains {
		if sp.wantRules[name] == nil {
			sp.delChains = append(sp.delChains, name)
			if len(v.rules[name]) > 0 {
				sp.flush = append(sp.flush, name)
			}
		}
	}
	for _, l := range [][]string{sp.addChains, sp.flush, sp.rewrite, sp.delChains} {
		slices.Sort(l)
	}
}

// chain returns the definition of a chain: a base chain's, or a class
// chain's (no hook).
func (sp *syncPlan) chain(d *tbl, name string) *nftables.Chain {
	if c := sp.chainDefs[name]; c != nil {
		return c
	}
	return &nftables.Chain{Name: name, Table: d.table}
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
