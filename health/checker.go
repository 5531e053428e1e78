package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// Checker probes one real server once.
//
// Contract:
//   - Check performs exactly one probe and returns its verdict. It does not
//     retry, sleep between attempts or keep state that changes the verdict of
//     a later call: retries and timing belong to the Scheduler.
//   - Check honours ctx: it returns (Up false) no later than shortly after
//     ctx's deadline or cancellation, and it leaves nothing behind when it
//     returns: no goroutine, no open socket, no child process (MISC_CHECK
//     kills the script's whole process group and reaps it).
//   - Check is safe to call from several goroutines at once, though the
//     driver never runs two probes of one checker concurrently.
type Checker interface {
	Check(ctx context.Context) Result
}

// Result is the outcome of one probe.
type Result struct {
	Up     bool
	Reason string // why the probe failed (or a short note when it passed)
	// Weight is the new real-server weight a MISC_CHECK with misc_dynamic
	// reported (exit status 2..255 → weight status-2); valid when HasWeight.
	Weight    int
	HasWeight bool
}

func (r Result) String() string {
	s := "down"
	if r.Up {
		s = "up"
	}
	if r.HasWeight {
		s += fmt.Sprintf(" weight=%d", r.Weight)
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

func up(reason string) Result { return Result{Up: true, Reason: reason} }

func down(format string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(format, args...)}
}

// Sentinel errors of checker construction; a *SpecError wraps them.
var (
	ErrBadSpec      = errors.New("invalid checker")
	ErrUnsafeScript = errors.New("unsafe script")
)

// SpecError is a checker that cannot be built. The config layer adds the
// file:line of the checker's block.
type SpecError struct {
	Kind  Kind
	Field string // the keepalived keyword at fault (regex, ca, misc_path, ...)
	Err   error
}

func (e *SpecError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("%v: %s: %v", e.Kind, e.Field, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

func specErr(k Kind, field string, format string, args ...any) error {
	return &SpecError{Kind: k, Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, args...)...)}
}

// New builds the checker a spec describes. It validates everything that can
// be validated without the network (regexes, certificate files, the script's
// existence, permissions and safety) so that `vigil config check` reports a
// broken checker before the agent runs it.
func New(spec CheckSpec) (Checker, error) {
	if spec.Kind != KindMisc && spec.Kind != KindPing {
		a := spec.addr()
		if !a.Addr().IsValid() {
			return nil, specErr(spec.Kind, "connect_ip", "no address to check")
		}
		if a.Port() == 0 {
			return nil, specErr(spec.Kind, "connect_port", "no port to check (the real server has none and connect_port is unset)")
		}
	}
	if spec.FWMark != 0 {
		if spec.Kind == KindMisc || spec.Kind == KindPing {
			return nil, specErr(spec.Kind, "fwmark", "not supported by this checker")
		}
		if _, err := markControl(spec.FWMark); err != nil {
			return nil, specErr(spec.Kind, "fwmark", "%v", err)
		}
	}
	switch spec.Kind {
	case KindTCP:
		return &tcpChecker{dialer: newDialer(&spec, "tcp"), addr: spec.addr().String()}, nil
	case KindHTTP, KindSSL:
		return newHTTPChecker(spec)
	case KindSMTP:
		return newSMTPChecker(spec)
	case KindDNS:
		return newDNSChecker(spec)
	case KindMisc:
		return newMiscChecker(spec)
	case KindUDP:
		return newUDPChecker(spec)
	case KindPing:
		a := spec.ConnectIP
		if !a.IsValid() {
			a = spec.Target.Addr()
		}
		if !a.IsValid() {
			return nil, specErr(spec.Kind, "connect_ip", "no address to ping")
		}
		return &pingChecker{addr: a.Unmap(), bind: spec.BindTo}, nil
	}
	return nil, specErr(spec.Kind, "", "unknown checker kind")
}

// newDialer builds the dialer of connect-based checkers: bindto/bind_port
// as the local address. The deadline comes from the probe's ctx.
func newDialer(s *CheckSpec, network string) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1} // probes are short: no keepalive setup per connection
	if s.FWMark != 0 {
		d.Control, _ = markControl(s.FWMark) // New checked it is supported
	}
	if s.BindTo.IsValid() || s.BindPort != 0 {
		ap := netip.AddrPortFrom(s.BindTo, s.BindPort)
		switch network {
		case "udp":
			d.LocalAddr = net.UDPAddrFromAddrPort(ap)
		default:
			d.LocalAddr = net.TCPAddrFromAddrPort(ap)
		}
	}
	return d
}

// bindCtx makes every blocking read and write on c return once ctx is done
// (deadline or cancellation). The returned stop must be called before c is
// closed; it leaves no goroutine behind.
func bindCtx(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(deadlinePast) })
}

// ioErr words an I/O error for a Result, preferring the ctx's reason.
func ioErr(ctx context.Context, op string, err error) Result {
	if ctx.Err() != nil {
		return down("%s: %v", op, context.Cause(ctx))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The socket deadline (the ctx's) fired just before ctx noticed.
		return down("%s: %v", op, context.DeadlineExceeded)
	}
	return down("%s: %v", op, err)
}

type tcpChecker struct {
	dialer *net.Dialer
	addr   string
}

// Check connects and closes: TCP_CHECK. The close is a reset (SO_LINGER 0)
// so that ten thousand checks a second leave no TIME_WAIT sockets on the
// director.
func (c *tcpChecker) Check(ctx context.Context) Result {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return ioErr(ctx, "connect "+c.addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
	return up("connected")
}

// deadlinePast is a deadline long gone: setting it unblocks pending I/O.
var deadlinePast = time.Unix(1, 0)
