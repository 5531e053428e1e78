package notify

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"vigil/fencing/internal/proc"
)

// Script is one configured notify script: keepalived's
// `notify_master "/path/to/script arg" [username [groupname]]`, with the
// quoted string already split into Argv.
type Script struct {
	Argv        []string
	User, Group string
}

// Scripts are the notify scripts of one instance or sync group. Nil
// entries are not configured.
type Scripts struct {
	Master, Backup, Fault, Stop, Deleted *Script
	// Notify is keepalived's generic `notify`: it runs after the
	// per-state script with four more arguments, TYPE NAME STATE PRIORITY.
	Notify *Script
}

func (s Scripts) forState(st State) *Script {
	switch st {
	case StateMaster:
		return s.Master
	case StateBackup:
		return s.Backup
	case StateFault:
		return s.Fault
	case StateStop:
		return s.Stop
	case StateDeleted:
		return s.Deleted
	}
	return nil
}

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	Instances map[string]Scripts // by vrrp_instance name
	Groups    map[string]Scripts // by vrrp_sync_group name
	// Timeout bounds each script run (default 30s); a script still running
	// then is killed with its process group.
	Timeout   time.Duration
	KillGrace time.Duration
	// QueueLen bounds the transitions waiting per instance (default 256).
	// When full, the oldest waiting transition is dropped (counted): the
	// scripts of the latest state always run, still in order.
	QueueLen int
	// OnDone, if set, is called after the scripts of each transition have
	// run (err joins their failures), from the instance's goroutine: the
	// agent marks fencing.StepNotifyFault with it. It must not block.
	OnDone func(t Transition, err error)
	Logger *slog.Logger
}

// Notifier runs notify scripts: strictly in transition order per instance
// (a queue per instance), different instances concurrently. It is a Sink;
// Send and Notify only queue and never block. It starts a goroutine per
// instance with queued transitions, which exits when the queue is empty;
// Close waits for them.
type Notifier struct {
	cfg     NotifierConfig
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Uint64
	ran     atomic.Uint64
	failed  atomic.Uint64

	mu     sync.Mutex
	queues map[string]*scriptQueue // by Type+" "+Name
	closed bool

	smu       sync.Mutex         // guards instances
	instances map[string]Scripts // cfg.Instances, then SetInstances'
}

type scriptQueue struct {
	pending []Transition
	running bool
}

// NewNotifier returns a Notifier for cfg.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{cfg: cfg, log: log, ctx: ctx, cancel: cancel, queues: map[string]*scriptQueue{}, instances: cfg.Instances}
}

// SetInstances replaces the instances' scripts (a live configuration
// change): each transition runs the scripts in force when it runs.
func (n *Notifier) SetInstances(scripts map[string]Scripts) {
	n.smu.Lock()
	n.instances = scripts
	n.smu.Unlock()
}

// Name is "notify_scripts".
func (n *Notifier) Name() string { return "notify_scripts" }

// Send queues the scripts of a transition; alerts are ignored.
func (n *Notifier) Send(_ context.Context, note Notification) error {
	if note.Transition != nil {
		n.Notify(*note.Transition)
	}
	return nil
}

// Notify queues the scripts of t behind the instance's earlier
// transitions. Transitions of instances without scripts cost nothing.
func (n *Notifier) Notify(t Transition) {
	scripts := n.scripts(t)
	if scripts.forState(t.State) == nil && scripts.Notify == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.dropped.Add(1)
		return
	}
	key := t.Type() + " " + t.Name
	q := n.queues[key]
	if q == nil {
		q = &scriptQueue{}
		n.queues[key] = q
	}
	if len(q.pending) >= n.cfg.QueueLen {
		n.log.Warn("notify scripts: queue full, dropping the oldest waiting transition", "instance", t.Name, "dropped_state", q.pending[0].State.String())
		q.pending = q.pending[1:]
		n.dropped.Add(1)
	}
	q.pending = append(q.pending, t)
	if !q.running {
		q.running = true
		n.wg.Add(1)
		go n.drain(key, q)
	}
}

func (n *Notifier) scripts(t Transition) Scripts {
	if t.Group {
		return n.cfg.Groups[t.Name]
	}
	n.smu.Lock()
	defer n.smu.Unlock()
	return n.instances[t.Name]
}

// drain runs the queue's transitions one after the other until it is
// empty.
func (n *Notifier) drain(key string, q *scriptQueue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(q.pending) == 0 || n.ctx.Err() != nil {
			n.dropped.Add(uint64(len(q.pending)))
			q.pending, q.running = nil, false
			delete(n.queues, key)
			n.mu.Unlock()
			return
		}
		t := q.pending[0]
		q.pending = q.pending[1:]
		n.mu.Unlock()
		n.run(t)
	}
}

// run runs the per-state script, then the generic one (keepalived's
// order, vrrp_notify.c send_instance_notifies).
func (n *Notifier) run(t Transition) {
	scripts := n.scripts(t)
	var errs []error
	if s := scripts.forState(t.State); s != nil {
		errs = append(errs, n.exec(t, s, s.Argv))
	}
	if s := scripts.Notify; s != nil {
		prio := t.Priority
		if t.Group {
			prio = 0 // keepalived passes 0 for groups
		}
		argv := append(append([]string(nil), s.Argv...), t.Type(), t.Name, t.State.String(), strconv.Itoa(prio))
		errs = append(errs, n.exec(t, s, argv))
	}
	if n.cfg.OnDone != nil {
		n.cfg.OnDone(t, errors.Join(errs...))
	}
}

func (n *Notifier) exec(t Transition, s *Script, argv []string) error {
	env := []string(nil)
	if t.Epoch != 0 {
		env = append(env, "VIGIL_EPOCH="+strconv.FormatUint(t.Epoch, 10))
	}
	res, err := proc.Run(n.ctx, proc.Spec{Argv: argv, Env: env, User: s.User, Group: s.Group, Timeout: n.cfg.Timeout, KillGrace: n.cfg.KillGrace})
	n.ran.Add(1)
	if err != nil {
		n.failed.Add(1)
		level := slog.LevelWarn
		if errors.Is(err, proc.ErrTimeout) {
			level = slog.LevelError
		}
		n.log.Log(context.Background(), level, "notify script failed", "instance", t.Name, "state", t.State.String(), "argv", argv, "exit", res.ExitCode, "timed_out", res.TimedOut, "output", res.Output, "err", err)
		return &Error{Op: "notify " + t.Name + " " + t.State.String(), Err: err}
	}
	n.log.Debug("notify script ran", "instance", t.Name, "state", t.State.String(), "argv", argv, "duration", res.Duration)
	return nil
}

// NotifierStats counts script runs and dropped transitions.
type NotifierStats struct{ Ran, Failed, Dropped uint64 }

// Stats returns the counters.
func (n *Notifier) Stats() NotifierStats {
	return NotifierStats{Ran: n.ran.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
}

// Close stops accepting transitions and lets the queued scripts run until
// ctx is done; then running scripts are killed, the rest dropped, and
// Close waits for the goroutines to exit.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return errors.Join(errors.New("notify: scripts still queued at close"), ctx.Err())
	}
}
