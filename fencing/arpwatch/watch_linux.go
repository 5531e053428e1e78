package arpwatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Watcher reads the ARP packets arriving on one interface and probes the
// VIPs. Open it, Run it once, and it closes its socket when Run returns.
type Watcher struct {
	cfg  Config
	conn *packet.Conn
	mac  net.HardwareAddr
}

// incomingOnly drops the frames this host sends (its own probes, its own
// gratuitous ARPs): a director's claims are judged by the others.
var incomingOnly = func() []bpf.RawInstruction {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		panic(err) // a constant program
	}
	return prog
}()

// Open opens an AF_PACKET socket for ARP on cfg.Interface, in the network
// namespace of the calling thread.
func Open(cfg Config) (*Watcher, error) {
	cfg = cfg.withDefaults()
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("arpwatch: open %s: %w", cfg.Interface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("arpwatch: open %s: %w: not an Ethernet interface", cfg.Interface, ErrInvalid)
	}
	conn, err := packet.Listen(ifi, packet.Raw, etherTypeARP, &packet.Config{Filter: incomingOnly})
	if err != nil {
		return nil, fmt.Errorf("arpwatch: open %s: %w", cfg.Interface, err)
	}
	return &Watcher{cfg: cfg, conn: conn, mac: ifi.HardwareAddr}, nil
}

// Run probes and reads until ctx ends, then closes the socket and returns
// ctx's error (or the error that stopped it).
func (w *Watcher) Run(ctx context.Context) error {
	defer w.Close()
	// Wake the read at once when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = w.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 1500)
	next := time.Now()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.cfg.Probe > 0 && !time.Now().Before(next) {
			w.probe()
			next = time.Now().Add(w.cfg.Probe)
		}
		deadline := next
		if w.cfg.Probe < 0 {
			deadline = time.Time{}
		}
		if err := w.conn.SetReadDeadline(deadline); err != nil {
			return fmt.Errorf("arpwatch: %s: %w", w.cfg.Interface, err)
		}
		if ctx.Err() != nil { // ended between the check and the deadline
			return ctx.Err()
		}
		n, _, err := w.conn.ReadFrom(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("arpwatch: read on %s: %w", w.cfg.Interface, err)
		}
		if obs, ok := w.cfg.claim(buf[:n]); ok {
			w.cfg.OnClaim(obs)
		}
	}
}

// probe broadcasts one ARP probe per VIP. A failure is logged: the next
// round tries again.
func (w *Watcher) probe() {
	for _, v := range w.cfg.VIPs {
		f, err := ProbeFrame(w.mac, v)
		if err == nil {
			_, err = w.conn.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])})
		}
		if err != nil {
			w.cfg.Logger.Debug("ARP probe", "interface", w.cfg.Interface, "vip", v, "err", err)
		}
	}
}

// Close closes the socket. Idempotent.
func (w *Watcher) Close() error {
	if err := w.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("arpwatch: close %s: %w", w.cfg.Interface, err)
	}
	return nil
}
