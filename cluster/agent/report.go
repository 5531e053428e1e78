package agent

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"vigil/cluster"
	"vigil/fencing"
	"vigil/fencing/metrics"
	"vigil/fencing/notify"
)

// ReportConfig says where the agent reports what it does: keepalived's
// notify scripts and FIFO, e-mail, and the alert monitor's tuning. The
// zero value reports to the log and metrics only.
type ReportConfig struct {
	// Scripts are the notify scripts per instance name.
	Scripts map[string]notify.Scripts
	// FIFO is keepalived's notify_fifo path ("" for none).
	FIFO string
	// SMTP, when set, mails every alert (smtp_alert).
	SMTP *notify.SMTPConfig
	// Webhooks POST every alert and transition as JSON (cluster block
	// webhook).
	Webhooks []WebhookSink
	// AdvertSrc is, per instance, each node's advert source address: the
	// holder table of the rogue-advert detector.
	AdvertSrc map[string]map[string]netip.Addr
	// VIPs are each instance's VIPs, whose ARP claims are judged.
	VIPs map[string][]netip.Addr
	// MACs are the MACs this node answers ARP with for the VIPs (its
	// instance interfaces', its VRRP virtual MACs): gossiped to the
	// others, whose arp_conflict detector counts them as this node's.
	MACs []net.HardwareAddr
}

// WebhookSink is one webhook: URL, the timeout of one POST, the attempts
// per notification, extra request headers.
type WebhookSink struct {
	URL      string
	Timeout  time.Duration
	Attempts int
	Headers  map[string]string
	RouterID string
}

// reporter turns what the agent did into notify scripts, FIFO lines,
// metrics and alerts. It is driven from the agent's loop only, after each
// change took effect (the VIP is on or off the wire): keepalived's order.
type reporter struct {
	log      *slog.Logger
	node     string
	metrics  *metrics.Metrics
	monitor  *fencing.Monitor
	notifier *notify.Notifier
	fifo     *notify.FIFO
	dispatch *notify.Dispatcher

	mu   sync.Mutex // guards open, read by the API
	open []fencing.Alert

	sfMu sync.Mutex                    // guards sf, completed by the notifier
	sf   map[string]*fencing.SelfFence // self-fencings waiting for notify_fault

	src     map[string]map[string]netip.Addr
	decl    map[string]fencing.InstanceConfigured // per instance, as last declared
	ids     map[string]fencing.NodeIdentity       // identity last fed, per node
	holders map[string]string                     // instance → holder last reported
	links   map[[2]string]bool
	quorum  *bool
	ticked  time.Time
}

func newReporter(cfg ReportConfig, node string, instances []cluster.InstanceSpec, log *slog.Logger) (*reporter, error) {
	r := &reporter{
		log: log, node: node,
		metrics: metrics.New(),
		monitor: fencing.NewMonitor(fencing.MonitorConfig{Node: node}),
		holders: map[string]string{}, links: map[[2]string]bool{},
		src: cfg.AdvertSrc, ids: map[string]fencing.NodeIdentity{}, decl: map[string]fencing.InstanceConfigured{},
		sf: map[string]*fencing.SelfFence{},
	}
	r.notifier = notify.NewNotifier(notify.NotifierConfig{Instances: cfg.Scripts, OnDone: r.notified, Logger: log.With("component", "notify")})
	var sinks []notify.Sink
	if cfg.FIFO != "" {
		f, err := notify.OpenFIFO(notify.FIFOConfig{Path: cfg.FIFO, Create: true, Alerts: true, Logger: log})
		if err != nil {
			r.notifier.Close(context.Background())
			return nil, fmt.Errorf("agent: notify_fifo %s: %w", cfg.FIFO, err)
		}
		r.fifo = f
	}
	if cfg.SMTP != nil {
		s, err := notify.NewSMTP(*cfg.SMTP)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("agent: smtp alerts: %w", err)
		}
		sinks = append(sinks, s)
	}
	hooks, bound, err := webhooks(cfg.Webhooks, log)
	if err != nil {
		r.close()
		return nil, err
	}
	sinks = append(sinks, hooks...)
	r.dispatch = notify.NewDispatcher(notify.DispatcherConfig{SendTimeout: bound, Logger: log.With("component", "alerts")}, sinks...)
	now := time.Now()
	for _, id := range identities(cfg.AdvertSrc) {
		if id.Node == node {
			id.MACs = cfg.MACs
		}
		r.identify(id)
	}
	r.setInstances(now, cfg, instances)
	return r, nil
}

// setInstances declares the instances to the monitor (at start, and at a
// live configuration change, which may add, change and remove some) and
// takes their notify scripts. A new instance enters BACKUP and runs
// notify_backup, as keepalived does at start and reload.
func (r *reporter) setInstances(now time.Time, cfg ReportConfig, instances []cluster.InstanceSpec) {
	r.notifier.SetInstances(cfg.Scripts)
	gone := maps.Clone(r.decl)
	for _, s := range instances {
		d := fencing.InstanceConfigured{Name: s.Name, VRID: s.VRID, VIPs: cfg.VIPs[s.Name]}
		old, known := r.decl[s.Name]
		delete(gone, s.Name)
		if known && old.VRID == d.VRID && slices.Equal(old.VIPs, d.VIPs) {
			continue
		}
		r.decl[s.Name] = d
		r.step(d)
		if !known {
			r.transition(now, s.Name, notify.StateBackup, s.Priority[r.node], 0)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(gone)) {
		delete(r.decl, name)
		r.step(fencing.InstanceRemoved{Name: name})
	}
}

// transition runs the instance's notify scripts and FIFO line for a state
// change that has taken effect.
func (r *reporter) transition(now time.Time, instance string, st notify.State, prio int, epoch uint64) {
	t := notify.Transition{Name: instance, State: st, Priority: prio, Epoch: epoch}
	r.notifier.Notify(t)
	if r.fifo != nil {
		r.fifo.Notify(t)
	}
	r.dispatch.Publish(notify.Notification{Time: now, Transition: &t})
}

// selfFenced records a self-fencing in progress: the lease of sf.Instance
// ran out, its VIP is released and its adverts stopped; the FAULT
// transition that follows completes it once notify_fault has run.
func (r *reporter) selfFenced(sf *fencing.SelfFence) {
	r.sfMu.Lock()
	r.sf[sf.Instance] = sf
	r.sfMu.Unlock()
}

// notified is the notifier's OnDone: it completes a self-fencing's
// measurement and reports it (log and metrics).
func (r *reporter) notified(t notify.Transition, err error) {
	if t.State != notify.StateFault {
		return
	}
	r.sfMu.Lock()
	sf := r.sf[t.Name]
	delete(r.sf, t.Name)
	r.sfMu.Unlock()
	if sf == nil {
		return
	}
	sf.Mark(fencing.StepNotifyFault, time.Now())
	rep := sf.Report()
	r.metrics.ObserveSelfFence(rep)
	r.log.Warn("self-fenced: lease expired, VIP released, adverts stopped, notify_fault run", "instance", rep.Instance, "epoch", rep.Epoch,
		"vip_released_after", rep.VIPReleased, "notify_fault_after", rep.NotifyFault, "total", rep.Total)
}

// committed updates the holder table and metrics from the replicated state.
func (r *reporter) committed(now time.Time, s *cluster.State) {
	for name, a := range s.Instances {
		holder := ""
		if a.Live() {
			holder = a.Holder
		}
		r.metrics.SetHolder(name, holder)
		r.metrics.SetEpoch(name, a.Epoch)
		if prev, ok := r.holders[name]; !ok || prev != holder {
			r.holders[name] = holder
			h := fencing.Holder{Node: holder, Epoch: a.Epoch}
			if holder != "" {
				h.Addr = r.src[name][holder]
			}
			r.step(fencing.HolderChanged{At: now, Instance: name, Holder: h})
		}
	}
}

func (r *reporter) raft(now time.Time, state string, term, commit uint64, leaderKnown bool, members int) {
	r.metrics.SetRaft(state, term, commit, commit)
	if r.quorum == nil || *r.quorum != leaderKnown {
		r.quorum = &leaderKnown
		r.step(fencing.QuorumChanged{At: now, Node: r.node, Quorum: leaderKnown, Members: members})
	}
}

func (r *reporter) peerLinks(now time.Time, peers []PeerLinks) {
	for _, p := range peers {
		if id := r.ids[p.Node]; fmt.Sprint(id.MACs) != fmt.Sprint(p.MACs) {
			id.Node, id.MACs = p.Node, p.MACs
			r.identify(id)
		}
		for i, up := range p.Links {
			link := fmt.Sprintf("link%d", i)
			k := [2]string{p.Node, link}
			if prev, ok := r.links[k]; ok && prev == up {
				continue
			}
			r.links[k] = up
			r.metrics.SetLink(p.Node, link, up)
			r.step(fencing.LinkChanged{At: now, Peer: p.Node, Link: link, Up: up})
		}
	}
}

func (r *reporter) lease(instance string, remaining time.Duration) {
	r.metrics.SetLeaseRemaining(instance, remaining)
}

// tick lets the monitor clear quiet alerts, once a second at most.
func (r *reporter) tick(now time.Time) {
	if now.Sub(r.ticked) < time.Second {
		return
	}
	r.ticked = now
	r.monitor.Tick(now)
	r.flush()
}

func (r *reporter) step(ev fencing.Event) {
	if err := r.monitor.Step(ev); err != nil {
		r.log.Error("alert monitor", "err", err)
	}
	r.flush()
}

// flush publishes the monitor's raised and cleared alerts.
func (r *reporter) flush() {
	for _, a := range r.monitor.Ready() {
		al := a.Alert
		if a.Op == fencing.Raise {
			r.log.Warn("alert raised", "kind", al.Kind, "message", al.Message)
		} else {
			r.log.Info("alert cleared", "kind", al.Kind, "message", al.Message)
		}
		r.metrics.ObserveAlert(a)
		r.dispatch.Publish(notify.Notification{Time: al.Last, Alert: &al})
		if r.fifo != nil {
			r.fifo.WriteLine(notify.AlertLine(al))
		}
	}
	r.monitor.Advance()
	open := r.monitor.Open()
	r.mu.Lock()
	r.open = open
	r.mu.Unlock()
}

// alerts returns the open alerts; safe from any goroutine.
func (r *reporter) alerts() []fencing.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.open)
}

func (r *reporter) handler() http.Handler { return r.metrics.Handler() }

func (r *reporter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.notifier != nil {
		r.notifier.Close(ctx)
	}
	if r.dispatch != nil {
		r.dispatch.Close(ctx)
	}
	if r.fifo != nil {
		r.fifo.Close()
	}
}
