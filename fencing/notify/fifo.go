package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vigil/fencing"
)

// FIFOConfig configures a FIFO sink (keepalived's notify_fifo or
// vrrp_notify_fifo).
type FIFOConfig struct {
	Path string
	// Create makes the FIFO (mode 0600) when Path does not exist, as
	// keepalived does.
	Create bool
	// QueueLen bounds the lines waiting to be written (default 1024);
	// lines that find it full are dropped and counted.
	QueueLen int
	// WriteTimeout bounds the wait for room in the pipe when the reader is
	// slow or absent (default 1s); the line is then dropped and counted.
	WriteTimeout time.Duration
	// Alerts also writes split-brain alerts, as AlertLine renders them.
	// keepalived's FIFO has no such lines; readers that switch on the
	// first word (as keepalived's sample_notify_fifo.sh does) skip them.
	Alerts bool
	Logger *slog.Logger
}

// AlertLine renders an alert for the FIFO:
//
//	ALERT rogue_advert RAISED "instance=VI_1 peer=10.0.0.99" 42
//
// (type, kind, RAISED or CLEARED, the quoted subject, the epoch or 0).
func AlertLine(a fencing.Alert) string {
	state := "RAISED"
	if a.Resolved {
		state = "CLEARED"
	}
	subj := strings.TrimPrefix(a.Subject().String(), string(a.Kind))
	return fmt.Sprintf("ALERT %s %s \"%s\" %d\n", a.Kind, state, strings.TrimSpace(subj), a.Epoch)
}

// FIFOStats counts the FIFO's lines.
type FIFOStats struct{ Written, Dropped uint64 }

// FIFO writes transitions to a named pipe in keepalived's line format
// (see FIFOLine). Like keepalived it opens the pipe read-write, so it
// never waits for a reader to appear: lines written while no reader is
// there wait in the pipe (64 KiB on Linux) for the next one. It is a Sink;
// Send and Notify never block. OpenFIFO starts one writer goroutine; Close
// stops it.
type FIFO struct {
	cfg     FIFOConfig
	log     *slog.Logger
	q       chan string
	written atomic.Uint64
	dropped atomic.Uint64
	done    chan struct{}
	f       fifoFile

	mu     sync.RWMutex
	closed bool
}

// fifoFile is what the writer needs of the opened pipe.
type fifoFile interface {
	Write(p []byte) (int, error)
	SetWriteDeadline(t time.Time) error
	Close() error
}

func newFIFO(cfg FIFOConfig, f fifoFile) *FIFO {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &FIFO{cfg: cfg, log: log, q: make(chan string, cfg.QueueLen), done: make(chan struct{}), f: f}
	go x.run()
	return x
}

func (x *FIFO) run() {
	defer close(x.done)
	for line := range x.q {
		if err := x.f.SetWriteDeadline(time.Now().Add(x.cfg.WriteTimeout)); err != nil {
			x.log.Warn("notify fifo: set deadline", "path", x.cfg.Path, "err", err)
		}
		// A line is far shorter than PIPE_BUF: it is written whole or not
		// at all.
		if _, err := x.f.Write([]byte(line)); err != nil {
			// Log the first drop and every 100th: an absent reader must
			// not flood the log either.
			if d := x.dropped.Add(1); d == 1 || d%100 == 0 {
				x.log.Warn("notify fifo: line dropped (reader slow or absent)", "path", x.cfg.Path, "line", line[:len(line)-1], "dropped_total", d, "err", err)
			}
			continue
		}
		x.written.Add(1)
	}
}

// Name is "notify_fifo".
func (x *FIFO) Name() string { return "notify_fifo" }

// Send queues the line of a transition, or of an alert when configured
// with Alerts.
func (x *FIFO) Send(_ context.Context, n Notification) error {
	switch {
	case n.Transition != nil:
		x.Notify(*n.Transition)
	case n.Alert != nil && x.cfg.Alerts:
		x.WriteLine(AlertLine(*n.Alert))
	}
	return nil
}

// Notify queues FIFOLine(t) and returns at once.
func (x *FIFO) Notify(t Transition) { x.WriteLine(FIFOLine(t)) }

// WriteLine queues a raw line (it must end in a newline and be shorter
// than 4096 bytes) and returns at once.
func (x *FIFO) WriteLine(line string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		x.dropped.Add(1)
		return
	}
	select {
	case x.q <- line:
	default:
		x.dropped.Add(1)
	}
}

// Stats returns the counters.
func (x *FIFO) Stats() FIFOStats {
	return FIFOStats{Written: x.written.Load(), Dropped: x.dropped.Load()}
}

// Close stops accepting lines, lets the writer finish the queued ones
// (each bounded by WriteTimeout) and closes the pipe.
func (x *FIFO) Close() error {
	x.mu.Lock()
	if !x.closed {
		x.closed = true
		close(x.q)
	}
	x.mu.Unlock()
	<-x.done
	return x.f.Close()
}
