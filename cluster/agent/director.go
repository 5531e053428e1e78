package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"vigil/fencing"
	"vigil/fencing/arpwatch"
	"vigil/fencing/nftfence"
	"vigil/health"
	"vigil/lvs"
	"vigil/lvs/datapath"
	"vigil/lvs/ipvs"
	"vigil/lvs/nft"
	"vigil/vrrp"
	"vigil/vrrp/vip"
)

// Director is a whole running director: the agent and the kernel-facing
// pieces its Wire drives, opened in the network namespace of the calling
// thread.
type Director struct {
	Agent   *Agent
	mu      sync.Mutex // guards setup: applied in the loop, validated by the API
	setup   *Setup
	log     *slog.Logger
	conn    *vip.NetlinkConn
	link    *vip.LinkSender
	mgr     *vip.Manager
	ann     *vip.Announcer
	insts   []*runInstance                 // the running configuration's instances
	retired map[*WireInstance]*runInstance // superseded by a configuration change, still held
	wire    *Wire                          // the Executor
	lb      *Balancer
	dp      lvs.Datapath
	vmacUse map[string]int          // use_vmac interfaces made → instances using them
	parents map[string]func() error // their parents' ARP settings to restore
	missing map[string]string       // instances that cannot run here → the interface missing
	guard   *conflictGuard          // the pre-take ARP check
	bg      context.Context         // Run's: the instances' goroutines run under it
	// stopProbes ends the guard's startup round (Close waits for it).
	stopProbes context.CancelFunc
	fence      *nftfence.Fence
	hd         *health.Driver
	hdRun      *group
	track      []func(context.Context) error // tracker loops
	trackers   Trackers                      // what they track (the setup's, with the missing interfaces)
	trackRun   *group
	arp        []*arpwatch.Watcher
	arpIfaces  map[string][]netip.Addr // what they watch
	arpRun     *group
}

// group is goroutines started and stopped together: an instance's, the
// trackers', the ARP watchers' (a live configuration change replaces
// them).
type group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start runs fns under Run's context until the group is stopped. Call it
// from Run, or from the loop once Run has started.
func (d *Director) start(what string, fns ...func(context.Context) error) *group {
	ctx, cancel := context.WithCancel(d.bg)
	g := &group{cancel: cancel}
	for _, fn := range fns {
		g.wg.Go(func() {
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("stopped", "component", what, "err", err)
			}
		})
	}
	return g
}

// stop ends the group's goroutines and waits for them (nil: nothing).
func (g *group) stop() {
	if g != nil {
		g.cancel()
		g.wg.Wait()
	}
}

// OpenDirector opens the sockets a director needs and the agent. An
// instance that cannot run on this node (an interface missing, a use_vmac
// interface that cannot be made) is logged and refuses every take with
// the reason (openInstance); one whose VIPs another host has is refused
// while that host answers (conflictGuard). Either way the other instances
// are unaffected.
func OpenDirector(s *Setup, log *slog.Logger) (*Director, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Director{setup: s, log: log, parents: map[string]func() error{}, missing: map[string]string{},
		vmacUse: map[string]int{}, retired: map[*WireInstance]*runInstance{}}
	var err error
	if d.conn, err = vip.NewNetlinkConn(); err != nil {
		return nil, fmt.Errorf("agent: open netlink: %w", err)
	}
	if d.link, err = vip.NewLinkSender(vip.SenderOptions{}); err != nil {
		d.Close()
		return nil, fmt.Errorf("agent: open packet socket for gratuitous ARP: %w", err)
	}
	if d.ann, err = vip.NewAnnouncer(d.link, s.GARP, vip.AnnouncerOptions{Logger: log.With("component", "announcer")}); err != nil {
		d.Close()
		return nil, fmt.Errorf("agent: announcer: %w", err)
	}
	for _, is := range s.Instances {
		ri, err := d.openInstance(is)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.insts = append(d.insts, ri)
	}
	if len(s.VirtualServers) > 0 {
		var kind datapath.Kind
		if d.dp, kind, err = datapath.Open(DatapathConfig(s, log)); err != nil {
			d.Close()
			return nil, fmt.Errorf("agent: load balancer datapath: %w", err)
		}
		log.Info("load balancer datapath", "kind", kind)
		d.lb = NewBalancer(d.dp, s.VirtualServers, log.With("component", "lvs"))
	}
	d.mgr = vip.NewManager(d.conn, Owned(wiresOf(d.insts)), vip.ManagerOptions{Logger: log.With("component", "vip")})
	// Remove leftovers of a previous run at once: this node holds nothing
	// until the cluster grants it a lease, and it acknowledges the release
	// of its old epochs, so a leftover address would overlap the next
	// holder. A sweep that fails is fatal.
	if err := d.mgr.Set(nil); err != nil && !onlyMissingInterfaces(err) {
		d.Close()
		return nil, fmt.Errorf("agent: remove VIP addresses left by a previous run: %w", err)
	}
	// Who else has our VIPs: probed in the background from now on.
	d.guard = newConflictGuard(probeARP, func(ev fencing.Event) { d.Agent.Observe(ev) }, log.With("component", "conflicts"))
	var probes context.Context
	probes, d.stopProbes = context.WithCancel(context.Background())
	targets := probeTargets(d.insts)
	d.guard.start(probes, targets)
	vetTakes(d.guard, targets, d.insts)
	cfg := s.Agent
	var fence Fence
	if d.fence, err = nftfence.New(vipsOf(wiresOf(d.insts))); err != nil {
		// Without the fence only the address lifetime bounds a frozen
		// holder: its whole-second resolution must be waited out.
		log.Warn("no nftables fence: the cluster waits out address lifetimes before moving a VIP", "err", err)
		cfg.Timing.KernelSlack = vip.DefaultSlack + vip.KernelExpiryJitter
	} else {
		fence = d.fence
		cfg.Timing.KernelSlack = nftfence.KernelSlack
	}
	d.wire = NewWire(d.mgr, d.ann, fence, wiresOf(d.insts), d.retire, log)
	cfg.Executor = d.wire
	if d.lb != nil {
		cfg.OnVerdicts = d.lb.SetHealth
	}
	cfg.OnConfig = d.applyConfig
	if s.Fence != nil {
		if !s.Fence.Required {
			log.Warn("fence_peer without required: the hook runs only as a condition of takeover; set required (the default) to use it")
		} else if cfg.Fencer, err = newFencer(s.Fence, func(ev fencing.Event) { d.Agent.Observe(ev) }, log); err != nil {
			d.Close()
			return nil, err
		}
	}
	cfg.ValidateConfig = d.validateConfig
	cfg.Logger = log
	arpIfaces := arpInterfaces(s.Instances)
	cfg.Report.MACs = slices.Concat(cfg.Report.MACs, localMACs(arpIfaces))
	cfg.Trackers = trackMissing(cfg.Trackers, d.missing)
	d.trackers = cfg.Trackers
	if d.Agent, err = New(cfg); err != nil {
		d.Close()
		return nil, err
	}
	d.openARPWatchers(arpIfaces)
	if d.track, err = d.trackerLoops(cfg.Trackers, 0); err != nil {
		d.Close()
		return nil, err
	}
	if d.hd, err = d.startHealth(cfg.Health); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// trackerLoops builds the tracker loops; each reports its status to the
// agent, as of tracker generation gen (see Agent.setTrackers).
func (d *Director) trackerLoops(t Trackers, gen uint64) ([]func(context.Context) error, error) {
	report := func(kind TrackKind) func(health.TrackStatus) {
		return func(st health.TrackStatus) { d.Agent.reportTrack(gen, kind, st) }
	}
	var out []func(context.Context) error
	for _, s := range t.Scripts {
		tr, err := health.NewScriptTracker(s)
		if err != nil {
			return nil, fmt.Errorf("agent: vrrp_script %s: %w", s.Name, err)
		}
		out = append(out, func(ctx context.Context) error { return tr.Run(ctx, report(TrackScript)) })
	}
	for _, f := range t.Files {
		tr, err := health.NewFileTracker(f)
		if err != nil {
			return nil, fmt.Errorf("agent: track_file %s: %w", f.Name, err)
		}
		out = append(out, func(ctx context.Context) error { return tr.Run(ctx, report(TrackFile)) })
	}
	if len(t.Links) > 0 {
		tr, err := health.NewLinkTracker(health.LinkTrackerSpec{Links: t.Links})
		if err != nil {
			return nil, fmt.Errorf("agent: track_interface: %w", err)
		}
		out = append(out, func(ctx context.Context) error { return tr.Run(ctx, report(TrackLink)) })
	}
	return out, nil
}

// startHealth builds the checkers of every checked real server; their
// transitions go to the agent, which agrees the verdicts with the others.
func (d *Director) startHealth(servers []HealthServer) (*health.Driver, error) {
	if len(servers) == 0 {
		return nil, nil
	}
	hd := health.NewDriver(health.DriverConfig{
		OnAction: func(a health.Action) {
			if a.Kind == health.ActState {
				d.Agent.ReportHealth(string(a.Server), a.Up, a.Weight)
			}
		},
		Logger: d.log.With("component", "health"),
	})
	for _, s := range servers {
		spec, checkers, err := health.NewServer(s.Spec, s.Checks)
		if err != nil {
			return nil, fmt.Errorf("agent: real server %s: %w", s.ID(), err)
		}
		if err := hd.Add(spec, checkers); err != nil {
			return nil, fmt.Errorf("agent: real server %s: %w", s.ID(), err)
		}
	}
	return hd, nil
}

// listener watches the instance's interface for adverts of its VRID that do
// not come from the replicated holder: a rogue router or a leftover
// keepalived. Each goes to the alert monitor.
func (d *Director) listener(is InstanceSetup, c *vrrp.Conn) (*vrrp.Listener, error) {
	local := vrrp.Local{Version: is.Advert.Version, AuthType: is.Advert.AuthType, AuthData: is.Advert.AuthData, Interval: is.Advert.Interval}
	return vrrp.NewListener(c, vrrp.ListenerConfig{
		Options: is.Options,
		Lookup: func(vrid uint8) (vrrp.Watch, bool) {
			if vrid != is.Advert.VRID {
				return vrrp.Watch{}, false
			}
			w := vrrp.Watch{Local: local}
			if h := d.Agent.Holder(is.Name); h != "" {
				w.Holder = d.advertSrc(is.Name, h)
			}
			return w, true
		},
		OnForeign: func(f vrrp.Foreign) {
			d.Agent.Observe(fencing.AdvertObservation{
				At: time.Now(), Iface: is.Interface, VRID: f.Advert.VRID, Src: f.Info.Src,
				Priority: f.Advert.Priority, Version: int(f.Advert.Version),
			})
		},
		Logger: d.log.With("instance", is.Name, "component", "listener"),
	})
}

// Run runs the director until ctx is done: the agent in front, the VIP
// sweep, the announcer and the advert senders behind it. When ctx ends the
// agent releases everything first; the rest stops after.
func (d *Director) Run(ctx context.Context) error {
	bg, cancel := context.WithCancel(context.Background())
	d.bg = bg
	parts := []*group{d.start("vip", d.mgr.Run), d.start("announcer", d.ann.Run)}
	if d.lb != nil {
		parts = append(parts, d.start("load balancer", d.lb.Run))
	}
	if d.hd != nil {
		d.hdRun = d.start("health", d.hd.Run)
	}
	d.trackRun = d.start("tracker", d.track...)
	for _, ri := range d.insts {
		d.startInstance(ri)
	}
	d.startARPWatchers()
	err := d.Agent.Run(ctx)
	cancel()
	for _, g := range append(parts, d.hdRun, d.trackRun) {
		g.stop()
	}
	d.Close() // stops the instances' and ARP watchers' goroutines too
	return err
}

// DatapathConfig is the load-balancer datapath a setup asks for: the
// configured kind, the cluster-wide hash seed, and the sysctls NAT needs
// (forwarding, loose TCP pickup, and be_liberal so a director taking a VIP
// back does not reset flows on stale conntrack entries: measured in
// ../shared/reference/ws-continuity.md).
func DatapathConfig(s *Setup, log *slog.Logger) datapath.Config {
	return datapath.Config{
		Kind: datapath.Kind(s.Datapath),
		IPVS: ipvs.Options{Sysctls: true, Timeouts: s.LVSTimeouts, Logger: log},
		NFT:  nft.Options{Seed: s.Seed, Sysctls: true, BeLiberal: true, Logger: log},
	}
}

// Close closes the sockets. Run calls it.
func (d *Director) Close() {
	if d.stopProbes != nil {
		d.stopProbes()
		<-d.guard.ready
		d.stopProbes = nil
	}
	if d.dp != nil {
		d.dp.Close()
		d.dp = nil
	}
	if d.fence != nil {
		// Run released every VIP before Close; a stopped agent must not
		// keep fencing addresses an operator may configure by hand. (A
		// killed one keeps its fence, which is the point.)
		d.fence.Close()
		d.fence = nil
	}
	d.closeARPWatchers()
	if d.ann != nil {
		d.ann.Close()
	}
	if d.link != nil {
		d.link.Close()
		d.link = nil
	}
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	// The instances (and their VMACs) go last: Run released their VIPs
	// and sent the priority-0 adverts from them before.
	for _, ri := range d.insts {
		d.closeInstance(ri)
	}
	for _, ri := range d.retired {
		d.closeInstance(ri)
	}
	d.insts, d.retired = nil, map[*WireInstance]*runInstance{}
	for parent, restore := range d.parents {
		if err := restore(); err != nil {
			d.log.Warn("ARP settings of a use_vmac parent not restored", "iface", parent, "err", err)
		}
	}
	d.parents = map[string]func() error{}
}

// onlyMissingInterfaces reports whether every error joined in err is a
// missing interface: an instance whose interface does not exist has no
// leftover address, and its holds fail on their own, leaving the others.
func onlyMissingInterfaces(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !onlyMissingInterfaces(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, vip.ErrNoInterface)
}
