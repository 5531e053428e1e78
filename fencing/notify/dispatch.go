package notify

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink delivers notifications somewhere (a script runner, a FIFO, an SMTP
// server, a webhook).
//
// Contract: the Dispatcher calls Send from one goroutine per sink, one
// notification at a time, in publication order. Send may block (a
// network round trip, retries) but must return promptly once ctx is done.
// Name is constant and labels the sink's metrics and logs.
type Sink interface {
	Name() string
	Send(ctx context.Context, n Notification) error
}

// DispatcherConfig configures a Dispatcher. Zero fields take the defaults.
type DispatcherConfig struct {
	QueueLen    int           // per sink; default 256
	SendTimeout time.Duration // bound on one Send; default 60s
	Logger      *slog.Logger
}

// SinkStats counts what happened to one sink's notifications.
type SinkStats struct {
	Name                  string
	Sent, Failed, Dropped uint64
}

// Dispatcher fans notifications out to sinks without ever blocking the
// publisher. NewDispatcher starts one goroutine per sink; Close stops them.
type Dispatcher struct {
	cfg     DispatcherConfig
	log     *slog.Logger
	workers []*worker
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type worker struct {
	sink                  Sink
	q                     chan Notification
	sent, failed, dropped atomic.Uint64
}

// NewDispatcher starts delivering to sinks.
func NewDispatcher(cfg DispatcherConfig, sinks ...Sink) *Dispatcher {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{cfg: cfg, log: log, ctx: ctx, cancel: cancel}
	for _, s := range sinks {
		w := &worker{sink: s, q: make(chan Notification, cfg.QueueLen)}
		d.workers = append(d.workers, w)
		d.wg.Add(1)
		go d.run(w)
	}
	return d
}

func (d *Dispatcher) run(w *worker) {
	defer d.wg.Done()
	for n := range w.q {
		if d.ctx.Err() != nil {
			w.dropped.Add(1)
			continue
		}
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.SendTimeout)
		err := w.sink.Send(ctx, n)
		cancel()
		if err != nil {
			w.failed.Add(1)
			d.log.Warn("notification not delivered", "sink", w.sink.Name(), "notification", n.String(), "err", err)
			continue
		}
		w.sent.Add(1)
	}
}

// Publish queues n for every sink and returns at once. A sink whose queue
// is full loses n (counted in Stats().Dropped); so does every sink after
// Close.
func (d *Dispatcher) Publish(n Notification) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, w := range d.workers {
		if d.closed {
			w.dropped.Add(1)
			continue
		}
		select {
		case w.q <- n:
		default:
			if k := w.dropped.Add(1); k == 1 || k%100 == 0 {
				d.log.Warn("notification dropped: sink queue full", "sink", w.sink.Name(), "notification", n.String(), "dropped_total", k)
			}
		}
	}
}

// Stats returns per-sink counters, in the order the sinks were given.
func (d *Dispatcher) Stats() []SinkStats {
	out := make([]SinkStats, len(d.workers))
	for i, w := range d.workers {
		out[i] = SinkStats{Name: w.sink.Name(), Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
	}
	return out
}

// Close stops accepting notifications and lets the sinks drain their
// queues until ctx is done; then it cancels the sinks' contexts (what is
// still queued is dropped) and waits for the goroutines to exit. It
// returns ctx's error if the queues did not drain in time.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for _, w := range d.workers {
			close(w.q)
		}
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return errors.Join(errors.New("notify: dispatcher closed before its queues drained"), ctx.Err())
	}
}
