//go:build linux

package nft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"vigil/lvs"
)

// Datapath programs the load balancer into an nftables table of its own.
type Datapath struct {
	opt        Options
	conn       *nftables.Conn
	genConn    *netlink.Conn
	log        *slog.Logger
	ops        uint64
	nat, dr    *tbl
	sysctlsSet bool
	// cacheGen is the ruleset generation at which nat.cache and dr.cache
	// were exact (see generation).
	cacheGen uint32
}

// tbl is one of the datapath's two tables: family ip for NAT services,
// family netdev for DR services.
type tbl struct {
	opt   Options
	conn  *nftables.Conn
	log   *slog.Logger
	ops   *uint64
	table *nftables.Table
	dr    bool
	// DR only, set per Apply: the ingress device and this director's MAC.
	ifindex uint32
	ownMAC  net.HardwareAddr
	macs    map[netip.Addr]net.HardwareAddr
	// cache is the table as this datapath last left it; nil = read it.
	cache *view
}

var (
	_ lvs.Datapath  = (*Datapath)(nil)
	_ lvs.Validator = (*Datapath)(nil)
	_ lvs.Counter   = (*Datapath)(nil)
)

// maxElemsPerMsg keeps one element list under netlink's 64 KiB attribute limit.
const maxElemsPerMsg = 1000

var (
	typeDispatchKey = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeIPAddr, nftables.TypeInetService)
	typeAddrPort    = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	typeWeightKey   = nftables.MustConcatSetType(nftables.TypeMark, nftables.TypeIPAddr, nftables.TypeInetService)
)

// New opens a netlink connection to nftables. It does not touch the kernel
// until Apply.
func New(opt Options) (*Datapath, error) {
	if opt.Seed == 0 {
		return nil, ErrSeed
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	copts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	if opt.NetNS != 0 {
		copts = append(copts, nftables.WithNetNSFd(opt.NetNS))
	}
	c, err := nftables.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("nft: open netlink: %w", err)
	}
	d := &Datapath{opt: opt, conn: c, log: log}
	d.nat = &tbl{opt: opt, conn: c, log: log, ops: &d.ops,
		table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: opt.table()}}
	d.dr = &tbl{opt: opt, conn: c, log: log, ops: &d.ops, dr: true,
		table: &nftables.Table{Family: nftables.TableFamilyNetdev, Name: opt.table() + "_dr"}}
	return d, nil
}

// bigBuffers lets one batch carry a large table (as nft itself does with
// SO_SNDBUFFORCE), and the acks of every message come back.
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<30); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<28)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("nft: socket buffers: %w", serr)
	}
	return nil
}

// Close implements lvs.Datapath. The table stays.
func (d *Datapath) Close() error {
	if d.genConn != nil {
		d.genConn.Close()
	}
	return d.conn.CloseLasting()
}

// KernelOps implements lvs.Counter: netlink messages sent in batches (not
// counting batch begin/end and reads).
func (d *Datapath) KernelOps() uint64 { return d.ops }

// Validate implements lvs.Validator.
func (d *Datapath) Validate(st lvs.State) error { return d.opt.Validate(st) }

// Delete removes vigil's table (all services) from the kernel.
func (d *Datapath) Delete(ctx context.Context) error {
	d.nat.cache, d.dr.cache = nil, nil
	if err := d.nat.delete(); err != nil {
		return err
	}
	return d.dr.delete()
}

func (d *tbl) delete() error {
	if _, err := d.conn.ListTableOfFamily(d.table.Name, d.table.Family); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("nft: list table %s: %w", d.table.Name, err)
	}
	d.conn.DelTable(d.table)
	*d.ops++
	if err := d.conn.Flush(); err != nil {
		return fmt.Errorf("nft: delete table %s: %w", d.table.Name, err)
	}
	return nil
}

// slotBits: a service's slots are id<<slotBits + slot in the backends map.
const slotBits = 14

// kSvc is one service as found in the kernel.
type kSvc struct {
	id      uint32
	key     lvs.ServiceKey // invalid Addr: no services element (orphan)
	rule    *nftables.Rule // the svc chain's rule; nil if missing
	chain   bool
	method  lvs.Method
	weights map[netip.AddrPort]int
	slots   map[uint32]string
}

func (k *kSvc) service() lvs.Service {
	s := lvs.Service{Proto: k.key.Proto, Addr: k.key.Addr, Port: k.key.Port, Scheduler: "?"}
	if k.rule != nil {
		if a, ok := parseTag(string(k.rule.UserData)); ok {
			s.Scheduler, s.Flags = a.sched, a.flags
			s.PersistenceTimeout, s.PersistenceNetmask = a.timeout, a.netmask
		}
	}
	for ap, w := range k.weights {
		s.Reals = append(s.Reals, lvs.Real{Addr: ap.Addr(), Port: ap.Port(), Weight: w, Method: k.method})
	}
	return s
}

// view is the kernel's table as read.
type view struct {
	cached bool // built by sync from what it wrote, not read from the kernel
	method lvs.Method
	exists bool
	chains map[string]bool
	sets   map[string]*nftables.Set
	rules  map[string]*nftables.Rule // base chains' rules by chain/user data
	svcs   map[uint32]*kSvc
	byKey  map[lvs.ServiceKey]*kSvc
	pickup map[pickupKey]netip.AddrPort
}

func (v *view) svc(id uint32) *kSvc {
	k := v.svcs[id]
	if k == nil {
		k = &kSvc{id: id, method: v.method, weights: map[netip.AddrPort]int{}, slots: map[uint32]string{}}
		v.svcs[id] = k
	}
	return k
}

func (d *tbl) read() (*view, error) {
	v := &view{method: lvs.NAT, chains: map[string]bool{}, sets: map[string]*nftables.Set{}, rules: map[string]*nftables.Rule{},
		svcs: map[uint32]*kSvc{}, byKey: map[lvs.ServiceKey]*kSvc{}, pickup: map[pickupKey]netip.AddrPort{}}
	if d.dr {
		v.method = lvs.DR
	}
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
		id, isSvc := parseChainName(c.Name)
		if isSvc {
			v.svc(id).chain = true
		}
		c.Table = d.table
		rules, err := d.conn.GetRules(d.table, c)
		if err != nil {
			return nil, fmt.Errorf("nft: list rules of %s: %w", c.Name, err)
		}
		for _, r := range rules {
			r.Table, r.Chain = d.table, c
			if isSvc {
				v.svc(id).rule = r
			} else {
				v.rules[c.Name+"/"+string(r.UserData)] = r
			}
		}
	}
	sets, err := d.conn.GetSets(d.table)
	if err != nil {
		return nil, fmt.Errorf("nft: list sets: %w", err)
	}
	for _, s := range sets {
		s.Table = d.table
		v.sets[s.Name] = s
		elems, err := d.conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("nft: list elements of %s: %w", s.Name, err)
		}
		switch name := s.Name; {
		case name == "services":
			for _, e := range elems {
				key, ok := decodeDispatchKey(e.Key)
				if !ok {
					continue
				}
				id, ok := parseChainName(verdictChain(e.Val))
				if !ok {
					continue
				}
				k := v.svc(id)
				k.key = key
				v.byKey[key] = k
			}
		case name == "weights":
			for _, e := range elems {
				if len(e.Key) == 12 && len(e.Val) == 4 {
					v.svc(host.Uint32(e.Key)).weights[decodeAP4(e.Key[4:])] = int(host.Uint32(e.Val))
				}
			}
		case isShardName(name):
			for _, e := range elems {
				if len(e.Key) == 4 {
					g := host.Uint32(e.Key)
					v.svc(g >> slotBits).slots[g&(1<<slotBits-1)] = string(e.Val)
				}
			}
		case name == "pickup":
			for _, e := range elems {
				if k, ok := decodePickupKey(e.Key); ok {
					v.pickup[k] = decodeAP4(e.Val)
				}
			}
		}
	}
	return v, nil
}

// Read implements lvs.Datapath.
func (d *Datapath) Read(ctx context.Context) (lvs.State, error) {
	var st lvs.State
	for _, t := range []*tbl{d.nat, d.dr} {
		v, err := t.read()
		if err != nil {
			return lvs.State{}, err
		}
		for _, k := range v.byKey {
			st.Services = append(st.Services, k.service())
		}
	}
	return st.Canonical(), nil
}

// Apply implements lvs.Datapath. Services this datapath cannot express are
// reported (each a *lvs.ServiceError wrapping lvs.ErrUnsupported) and left as
// they are in the kernel; everything else is applied in one atomic batch.
func (d *Datapath) Apply(ctx context.Context, want lvs.State) error {
	if err := want.Validate(); err != nil {
		return err
	}
	want = want.Canonical()
	t0 := time.Now()
	g0, gerr := d.generation()
	vn, vd := d.nat.cache, d.dr.cache
	d.nat.cache, d.dr.cache = nil, nil // until this Apply succeeds
	if gerr != nil || g0 != d.cacheGen || vn == nil || vd == nil {
		var err error
		if vn, err = d.nat.read(); err != nil {
			return err
		}
		if vd, err = d.dr.read(); err != nil {
			return err
		}
		d.log.Debug("nft: read", "services", len(vn.byKey)+len(vd.byKey), "took", time.Since(t0))
	}
	var errs []error
	var natPlans, drPlans []plan
	keep := map[lvs.ServiceKey]bool{} // left as they are in the kernel
	var drWanted []lvs.Service
	for _, s := range want.Services {
		if err := d.opt.check(s); err != nil {
			errs = append(errs, err)
			keep[s.Key()] = true
			continue
		}
		if isDR(s) {
			drWanted = append(drWanted, s)
			continue
		}
		natPlans = append(natPlans, d.opt.planFor(s))
	}
	if len(drWanted) > 0 {
		if err := d.dr.prepareDR(); err != nil {
			errs = append(errs, err)
			for _, s := range drWanted {
				keep[s.Key()] = true
			}
			drWanted = nil
		}
	}
	for _, s := range drWanted {
		if err := d.dr.resolveMACs(s); err != nil {
			errs = append(errs, err)
			keep[s.Key()] = true
			continue
		}
		drPlans = append(drPlans, d.opt.planFor(s))
	}
	commits := uint32(0)
	nvn, flushed, err := d.nat.sync(vn, natPlans, keep)
	if err != nil {
		errs = append(errs, err)
	} else if flushed {
		commits++
	}
	var nvd *view
	if len(drPlans) == 0 && !anyKept(vd, keep) {
		nvd = emptyView(lvs.DR)
		if vd.exists {
			if err := d.dr.delete(); err != nil {
				nvd = nil
				errs = append(errs, err)
			} else {
				commits++
			}
		}
	} else {
		nvd, flushed, err = d.dr.sync(vd, drPlans, keep)
		if err != nil {
			errs = append(errs, err)
		} else if flushed {
			commits++
		}
	}
	if d.opt.Sysctls && !d.sysctlsSet && len(natPlans) > 0 && len(errs) == 0 {
		if err := d.setSysctls(); err != nil {
			errs = append(errs, err)
		} else {
			d.sysctlsSet = true
		}
	}
	// Keep the views only if nobody else committed meanwhile.
	if g1, err := d.generation(); gerr == nil && err == nil && g1 == g0+commits && nvn != nil && nvd != nil {
		d.nat.cache, d.dr.cache, d.cacheGen = nvn, nvd, g1
	}
	return errors.Join(errs...)
}

func emptyView(m lvs.Method) *view {
	return &view{method: m, chains: map[string]bool{}, sets: map[string]*nftables.Set{}, rules: map[string]*nftables.Rule{},
		svcs: map[uint32]*kSvc{}, byKey: map[lvs.ServiceKey]*kSvc{}, pickup: map[pickupKey]netip.AddrPort{}}
}

func isDR(s lvs.Service) bool { return len(s.Reals) > 0 && s.Reals[0].Method == lvs.DR }

func anyKept(v *view, keep map[lvs.ServiceKey]bool) bool {
	for k := range keep {
		if v.byKey[k] != nil {
			return true
		}
	}
	return false
}

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

// String renders a short summary, for logs.
func (d *Datapath) String() string {
	return fmt.Sprintf("nftables tables ip %s, netdev %s (seed %#x)", d.nat.table.Name, d.dr.table.Name, d.opt.Seed)
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

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
