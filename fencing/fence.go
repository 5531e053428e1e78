package fencing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"vigil/fencing/internal/proc"
)

// Request asks to fence Node, which held (or may hold) Instance under
// Epoch, the fencing token of the assignment being taken away.
type Request struct {
	Node     string
	Instance string
	Epoch    uint64
	Reason   string
}

func (r Request) String() string {
	return fmt.Sprintf("fence %s %s epoch %d", r.Node, r.Instance, r.Epoch)
}

// Fencer fences a peer director: it makes sure the peer can no longer
// serve (an IPMI power-off, a switch-port shutdown, a cloud API call).
//
// Contract: Fence blocks until the peer is fenced (nil) or fencing failed
// (an error); it returns promptly once ctx is done. It is safe for
// concurrent use. It may be called again with the same Request after a
// failure, so what it does must be idempotent. It decides nothing: whether
// a takeover waits for it is the cluster's decision.
type Fencer interface {
	Fence(ctx context.Context, req Request) error
}

// FenceError is the error of a fencing that failed: every attempt of Req
// failed, Err is the last attempt's error.
type FenceError struct {
	Req      Request
	Attempts int
	Err      error
}

func (e *FenceError) Error() string {
	return fmt.Sprintf("fencing: %s: %d attempt(s) failed, last: %v", e.Req, e.Attempts, e.Err)
}

// Unwrap returns ErrFenceFailed and the last attempt's error.
func (e *FenceError) Unwrap() []error { return []error{ErrFenceFailed, e.Err} }

// ScriptConfig configures a ScriptFencer.
type ScriptConfig struct {
	// Command is the hook and its configured arguments; node, instance,
	// epoch and reason are appended as four more arguments.
	Command []string
	// User and Group to run the hook as (empty: this process's).
	User, Group string
	// Timeout bounds one run (default 30s); the hook's process group is
	// killed at the timeout (SIGTERM, then SIGKILL after KillGrace).
	Timeout   time.Duration
	KillGrace time.Duration
	Logger    *slog.Logger
}

// ScriptFencer runs a configured hook once per Fence call. The hook gets
// the request as arguments ($n-3 node, $n-2 instance, $n-1 epoch, $n
// reason) and as environment (VIGIL_NODE, VIGIL_INSTANCE, VIGIL_EPOCH,
// VIGIL_REASON); exit status 0 means fenced.
type ScriptFencer struct {
	cfg ScriptConfig
	log *slog.Logger
}

// NewScriptFencer checks cfg and returns the fencer.
func NewScriptFencer(cfg ScriptConfig) (*ScriptFencer, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, &Error{Op: "fence hook", Err: fmt.Errorf("%w: empty command", ErrBadConfig)}
	}
	if cfg.Timeout < 0 {
		return nil, &Error{Op: "fence hook", Err: fmt.Errorf("%w: negative timeout %v", ErrBadConfig, cfg.Timeout)}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ScriptFencer{cfg: cfg, log: log}, nil
}

// Fence runs the hook once.
func (f *ScriptFencer) Fence(ctx context.Context, req Request) error {
	epoch := strconv.FormatUint(req.Epoch, 10)
	argv := append(append([]string(nil), f.cfg.Command...), req.Node, req.Instance, epoch, req.Reason)
	res, err := proc.Run(ctx, proc.Spec{
		Argv: argv,
		Env: []string{
			"VIGIL_NODE=" + req.Node, "VIGIL_INSTANCE=" + req.Instance,
			"VIGIL_EPOCH=" + epoch, "VIGIL_REASON=" + req.Reason,
		},
		User: f.cfg.User, Group: f.cfg.Group,
		Timeout: f.cfg.Timeout, KillGrace: f.cfg.KillGrace,
	})
	f.log.Info("fence hook ran", "node", req.Node, "instance", req.Instance, "epoch", req.Epoch,
		"exit", res.ExitCode, "timed_out", res.TimedOut, "duration", res.Duration, "output", res.Output, "err", err)
	if err != nil {
		return &Error{Op: req.String(), Err: err}
	}
	return nil
}

// Sleeper waits d or until ctx is done (then it returns ctx.Err()). Tests
// inject one that records the backoff instead of sleeping.
type Sleeper func(ctx context.Context, d time.Duration) error

// SleepContext is the real Sleeper.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RetryPolicy is an exponential backoff: Initial, Initial*Multiplier, ...
// capped at Max, for at most Attempts attempts.
type RetryPolicy struct {
	Attempts   int           // default 3
	Initial    time.Duration // default 1s
	Max        time.Duration // default 30s
	Multiplier float64       // default 2
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 3
	}
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	return p
}

// Backoff returns the wait after failed attempt n (1-based).
func (p RetryPolicy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := float64(p.Initial)
	for i := 1; i < n; i++ {
		d *= p.Multiplier
		if d >= float64(p.Max) {
			return p.Max
		}
	}
	return time.Duration(d)
}

// Retrying wraps a Fencer with retries, and reports every attempt.
type Retrying struct {
	Fencer Fencer
	Policy RetryPolicy
	Sleep  Sleeper          // default SleepContext
	Now    func() time.Time // default time.Now; stamps outcomes and alerts
	// OnAttempt, if set, is called after every attempt (feed it to
	// Monitor.Step: it raises fence_failed and clears it on success).
	OnAttempt func(FenceOutcome)
	// OnFailure, if set, is called with a fence_failed alert after every
	// failed attempt (for sinks that want each failure, not the
	// de-duplicated stream).
	OnFailure func(Alert)
	Logger    *slog.Logger
}

// Fence tries up to Policy.Attempts times, sleeping Policy.Backoff between
// attempts. It returns nil on the first success, a *FenceError when every
// attempt failed, or ctx's error wrapped in a *FenceError when ctx ended.
func (r *Retrying) Fence(ctx context.Context, req Request) error {
	_, err := r.fence(ctx, req)
	return err
}

func (r *Retrying) fence(ctx context.Context, req Request) (int, error) {
	p := r.Policy.withDefaults()
	sleep, now := r.Sleep, r.Now
	if sleep == nil {
		sleep = SleepContext
	}
	if now == nil {
		now = time.Now
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var last error
	for n := 1; n <= p.Attempts; n++ {
		err := r.Fencer.Fence(ctx, req)
		out := FenceOutcome{At: now(), Node: req.Node, Instance: req.Instance, Epoch: req.Epoch, Attempt: n, Err: err}
		if r.OnAttempt != nil {
			r.OnAttempt(out)
		}
		if err == nil {
			return n, nil
		}
		last = err
		log.Warn("fence attempt failed", "node", req.Node, "instance", req.Instance, "epoch", req.Epoch, "attempt", n, "of", p.Attempts, "err", err)
		if r.OnFailure != nil {
			r.OnFailure(out.alert())
		}
		if ctx.Err() != nil {
			return n, &FenceError{Req: req, Attempts: n, Err: errors.Join(err, ctx.Err())}
		}
		if n < p.Attempts {
			if serr := sleep(ctx, p.Backoff(n)); serr != nil {
				return n, &FenceError{Req: req, Attempts: n, Err: errors.Join(err, serr)}
			}
		}
	}
	return p.Attempts, &FenceError{Req: req, Attempts: p.Attempts, Err: last}
}

// alert is the fence_failed alert of a failed attempt.
func (o FenceOutcome) alert() Alert {
	a := newAlert(KindFenceFailed, o.At,
		fmt.Sprintf("fence hook for %s (instance %s, epoch %d) failed, attempt %d: %v", o.Node, o.Instance, o.Epoch, o.Attempt, o.Err),
		map[string]string{"attempt": strconv.Itoa(o.Attempt), "error": fmt.Sprint(o.Err)})
	a.Node, a.Instance, a.Epoch = o.Node, o.Instance, o.Epoch
	return a
}

// Result is the outcome of a fencing Operation.
type Result struct {
	Req      Request
	OK       bool
	Attempts int // attempts made (1 for a Fencer without retries)
	Err      error
	Started  time.Time
	Finished time.Time
}

// Operation is a fencing in progress. The cluster core starts one before
// a takeover and, where the hook is `required`, assigns the VIP only once
// Done is closed and Result reports OK; otherwise it may go on at once.
type Operation struct {
	done   chan struct{}
	mu     sync.Mutex
	result Result
}

// Start runs f.Fence(ctx, req) on its own goroutine and returns at once.
// The goroutine ends when Fence returns; cancel ctx to stop it (a running
// hook is then killed). now stamps Started and Finished (nil: time.Now).
func Start(ctx context.Context, f Fencer, req Request, now func() time.Time) *Operation {
	if now == nil {
		now = time.Now
	}
	op := &Operation{done: make(chan struct{})}
	op.result = Result{Req: req, Started: now()}
	go func() {
		var err error
		attempts := 1
		if r, ok := f.(*Retrying); ok {
			attempts, err = r.fence(ctx, req)
		} else {
			err = f.Fence(ctx, req)
		}
		op.mu.Lock()
		op.result.OK, op.result.Err, op.result.Attempts, op.result.Finished = err == nil, err, attempts, now()
		op.mu.Unlock()
		close(op.done)
	}()
	return op
}

// Done is closed when the operation has finished.
func (o *Operation) Done() <-chan struct{} { return o.done }

// Result returns the result and true once Done is closed; before that, the
// request with Started set and false.
func (o *Operation) Result() (Result, bool) {
	select {
	case <-o.done:
	default:
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.result, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.result, true
}

// Wait blocks until the operation finishes or ctx is done.
func (o *Operation) Wait(ctx context.Context) (Result, error) {
	select {
	case <-o.done:
		r, _ := o.Result()
		return r, nil
	case <-ctx.Done():
		r, _ := o.Result()
		return r, ctx.Err()
	}
}
