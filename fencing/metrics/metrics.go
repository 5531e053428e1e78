package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vigil/fencing"
	"vigil/fencing/notify"
)

const ns = "vigil"

// RaftStates are the values SetRaft accepts (hashicorp/raft's
// RaftState.String, lower-cased).
var RaftStates = []string{"follower", "candidate", "leader", "shutdown"}

// Metrics is the agent's metric set. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg *prometheus.Registry

	holder         *prometheus.GaugeVec
	epoch          *prometheus.GaugeVec
	leaseRemaining *prometheus.GaugeVec
	raftState      *prometheus.GaugeVec
	raftTerm       prometheus.Gauge
	raftCommit     prometheus.Gauge
	raftApplied    prometheus.Gauge
	linkUp         *prometheus.GaugeVec
	alertsOpen     *prometheus.GaugeVec
	alertsTotal    *prometheus.CounterVec
	rsUp           *prometheus.GaugeVec
	rsWeight       *prometheus.GaugeVec
	datapathOps    *prometheus.CounterVec
	fenceAttempts  *prometheus.CounterVec
	selfFence      *prometheus.HistogramVec

	mu          sync.Mutex
	notifyStats func() []notify.SinkStats
}

// New returns the metrics, registered on a new registry together with
// the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		holder: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "instance_holder",
			Help: "1 for the director holding the VRRP instance's VIPs, per the replicated state."}, []string{"instance", "node"}),
		epoch: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "instance_epoch",
			Help: "Epoch (fencing token: the Raft index that assigned the holder) of the instance's current assignment."}, []string{"instance"}),
		leaseRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "lease_remaining_seconds",
			Help: "Time left on this director's lease for the instance, on its monotonic clock; 0 when it holds no lease."}, []string{"instance"}),
		raftState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "raft_state",
			Help: "1 for this director's current Raft state (follower, candidate, leader, shutdown), 0 for the others."}, []string{"state"}),
		raftTerm: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "raft_term",
			Help: "Current Raft term seen by this director."}),
		raftCommit: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "raft_commit_index",
			Help: "Raft commit index known to this director."}),
		raftApplied: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "raft_applied_index",
			Help: "Raft index last applied to this director's state machine."}),
		linkUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "link_up",
			Help: "1 when the heartbeat link to the peer is up, 0 when it is down."}, []string{"peer", "link"}),
		alertsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "alerts_open",
			Help: "Split-brain alerts currently open, by kind."}, []string{"kind"}),
		alertsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alerts_total",
			Help: "Split-brain alerts raised since start, by kind."}, []string{"kind"}),
		rsUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "realserver_up",
			Help: "1 when the real server's health checks pass (per the replicated verdict), 0 otherwise."}, []string{"service", "realserver"}),
		rsWeight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "realserver_weight",
			Help: "Weight programmed for the real server in the datapath (0 when down or drained)."}, []string{"service", "realserver"}),
		datapathOps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "datapath_operations_total",
			Help: "Datapath operations applied (add/update/delete of services and real servers, flushes), by datapath, operation and result."}, []string{"datapath", "op", "result"}),
		fenceAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "fence_attempts_total",
			Help: "Fence-peer hook attempts, by result (ok or failed)."}, []string{"result"}),
		selfFence: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "self_fence_seconds",
			Help:    "Time from lease expiry to each self-fencing step: vip_released, adverts_stopped, notify_fault.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"step"}),
	}
	m.reg.MustRegister(m.holder, m.epoch, m.leaseRemaining, m.raftState, m.raftTerm, m.raftCommit, m.raftApplied,
		m.linkUp, m.alertsOpen, m.alertsTotal, m.rsUp, m.rsWeight, m.datapathOps, m.fenceAttempts, m.selfFence,
		notifyCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range fencing.Kinds {
		m.alertsOpen.WithLabelValues(string(k))
		m.alertsTotal.WithLabelValues(string(k))
	}
	for _, s := range RaftStates {
		m.raftState.WithLabelValues(s)
	}
	for _, r := range []string{"ok", "failed"} {
		m.fenceAttempts.WithLabelValues(r)
	}
	return m
}

// Registry returns the metrics' own registry (to add collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetHolder records node as the holder of instance ("" for nobody); the
// previous holder's series is removed.
func (m *Metrics) SetHolder(instance, node string) {
	m.holder.DeletePartialMatch(prometheus.Labels{"instance": instance})
	if node != "" {
		m.holder.WithLabelValues(instance, node).Set(1)
	}
}

// SetEpoch records the epoch of instance's current assignment.
func (m *Metrics) SetEpoch(instance string, epoch uint64) {
	m.epoch.WithLabelValues(instance).Set(float64(epoch))
}

// SetLeaseRemaining records this node's lease time left on instance
// (negative durations record 0).
func (m *Metrics) SetLeaseRemaining(instance string, d time.Duration) {
	m.leaseRemaining.WithLabelValues(instance).Set(max(d, 0).Seconds())
}

// DeleteInstance forgets an instance removed from the configuration.
func (m *Metrics) DeleteInstance(instance string) {
	m.holder.DeletePartialMatch(prometheus.Labels{"instance": instance})
	m.epoch.DeleteLabelValues(instance)
	m.leaseRemaining.DeleteLabelValues(instance)
}

// SetRaft records this node's Raft state (one of RaftStates, any case),
// term, commit and applied index.
func (m *Metrics) SetRaft(state string, term, commitIndex, appliedIndex uint64) {
	for _, s := range RaftStates {
		v := 0.0
		if equalFold(s, state) {
			v = 1
		}
		m.raftState.WithLabelValues(s).Set(v)
	}
	m.raftTerm.Set(float64(term))
	m.raftCommit.Set(float64(commitIndex))
	m.raftApplied.Set(float64(appliedIndex))
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// SetLink records the state of one heartbeat link to a peer.
func (m *Metrics) SetLink(peer, link string, up bool) {
	m.linkUp.WithLabelValues(peer, link).Set(b2f(up))
}

// ObserveAlert accounts for one Monitor action: a Raise counts in
// alerts_total and alerts_open, a Clear leaves alerts_open.
func (m *Metrics) ObserveAlert(a fencing.Action) {
	k := string(a.Alert.Kind)
	switch a.Op {
	case fencing.Raise:
		m.alertsTotal.WithLabelValues(k).Inc()
		m.alertsOpen.WithLabelValues(k).Inc()
	case fencing.Clear:
		m.alertsOpen.WithLabelValues(k).Dec()
	}
}

// SetRealServer records a real server's health and programmed weight.
func (m *Metrics) SetRealServer(service, realServer string, up bool, weight int) {
	m.rsUp.WithLabelValues(service, realServer).Set(b2f(up))
	m.rsWeight.WithLabelValues(service, realServer).Set(float64(weight))
}

// DeleteRealServer forgets a real server removed from the configuration.
func (m *Metrics) DeleteRealServer(service, realServer string) {
	m.rsUp.DeleteLabelValues(service, realServer)
	m.rsWeight.DeleteLabelValues(service, realServer)
}

// AddDatapathOps counts n operations op ("add_service", "del_real", ...)
// on datapath ("ipvs", "nftables", "memory"); err nil counts as ok.
func (m *Metrics) AddDatapathOps(datapath, op string, n int, err error) {
	m.datapathOps.WithLabelValues(datapath, op, result(err)).Add(float64(n))
}

// ObserveFenceAttempt counts one fence-hook attempt (wire it to
// fencing.Retrying.OnAttempt).
func (m *Metrics) ObserveFenceAttempt(o fencing.FenceOutcome) {
	m.fenceAttempts.WithLabelValues(result(o.Err)).Inc()
}

// ObserveSelfFence records a self-fencing's step durations (only the
// steps that happened).
func (m *Metrics) ObserveSelfFence(r fencing.SelfFenceReport) {
	for _, s := range []struct {
		step fencing.SelfFenceStep
		d    time.Duration
	}{{fencing.StepVIPReleased, r.VIPReleased}, {fencing.StepAdvertsStopped, r.AdvertsStopped}, {fencing.StepNotifyFault, r.NotifyFault}} {
		if r.Done(s.step) {
			m.selfFence.WithLabelValues(s.step.String()).Observe(s.d.Seconds())
		}
	}
}

// SetNotifyStats installs the source of the notify_* counters (a
// Dispatcher's Stats method); they are read at every scrape.
func (m *Metrics) SetNotifyStats(f func() []notify.SinkStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notifyStats = f
}

func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	descNotifySent    = prometheus.NewDesc(ns+"_notify_sent_total", "Notifications delivered, by sink.", []string{"sink"}, nil)
	descNotifyFailed  = prometheus.NewDesc(ns+"_notify_failed_total", "Notifications a sink failed to deliver, by sink.", []string{"sink"}, nil)
	descNotifyDropped = prometheus.NewDesc(ns+"_notify_dropped_total", "Notifications dropped because a sink's queue was full (a slow or absent sink), by sink.", []string{"sink"}, nil)
)

// notifyCollector reads the dispatcher's counters at scrape time.
type notifyCollector struct{ m *Metrics }

func (c notifyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descNotifySent
	ch <- descNotifyFailed
	ch <- descNotifyDropped
}

func (c notifyCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	f := c.m.notifyStats
	c.m.mu.Unlock()
	if f == nil {
		return
	}
	for _, s := range f() {
		ch <- prometheus.MustNewConstMetric(descNotifySent, prometheus.CounterValue, float64(s.Sent), s.Name)
		ch <- prometheus.MustNewConstMetric(descNotifyFailed, prometheus.CounterValue, float64(s.Failed), s.Name)
		ch <- prometheus.MustNewConstMetric(descNotifyDropped, prometheus.CounterValue, float64(s.Dropped), s.Name)
	}
}
