package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Watch is what the Listener knows about one of our virtual routers.
type Watch struct {
	// Local is the instance's configuration, checked with CheckLocal.
	Local Local
	// Holder is the source address the current holder advertises from;
	// the zero Addr when no node should be advertising.
	Holder netip.Addr
}

// Foreign is an advert for one of our VRIDs that did not come from the
// expected holder. An advert with Priority 0 is a router resigning (say a
// former holder's release advert arriving after the handover), not a
// claim: split-brain alerts usually need Priority > 0.
type Foreign struct {
	Advert *Advert
	Info   PacketInfo
	// Expected is the holder's address, zero if none was expected.
	Expected netip.Addr
	// Err is the CheckLocal error if the advert does not match the local
	// configuration (wrong password, interval, addresses): still a rogue
	// for our VRID, and counted as a drop too.
	Err error
}

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// Options are the checksum conventions expected of adverts.
	Options Options
	// StrictUnicastHopLimit drops unicast adverts whose TTL/hop limit is
	// not 255, as RFC 5798 §7.1 asks of every advert. By default only
	// multicast adverts are checked, as keepalived does: keepalived 2.2.7
	// sends its IPv6 unicast adverts with hop limit 64 (see
	// testdata/keepalived/v3-ipv6-unicast.txt), and a monitor must not
	// miss such a rogue.
	StrictUnicastHopLimit bool
	// AnyV3Checksum accepts v3 IPv4 adverts with any of the checksum
	// conventions in use (see ParseOptions): a rogue router is then
	// reported whatever its convention, instead of dropped as "checksum".
	AnyV3Checksum bool
	// Lookup returns the watch for a VRID, ok false if it is not ours.
	// Called from the Run goroutine for every parsed advert.
	Lookup func(vrid uint8) (w Watch, ok bool)
	// OnForeign is called, from the Run goroutine and in arrival order,
	// for every advert for one of our VRIDs not from the expected holder.
	// It must not block for long.
	OnForeign func(Foreign)
	// Logger receives drops at debug level; nil discards.
	Logger *slog.Logger
}

// ListenerStats counts what a Listener saw.
type ListenerStats struct {
	Received uint64            // messages read
	Valid    uint64            // adverts for our VRIDs that passed every check
	Foreign  uint64            // OnForeign calls
	Drops    map[string]uint64 // by Reason label
}

// Listener decodes the adverts arriving on a PacketConn, counts every drop
// by reason and reports foreign adverts. It is the VRRP split-brain
// detector: the node holding a VIP is decided elsewhere, and any other
// router advertising that VRID is a rogue (a leftover keepalived, say).
type Listener struct {
	conn PacketConn
	cfg  ListenerConfig
	log  *slog.Logger

	mu    sync.Mutex
	stats ListenerStats
}

// NewListener returns a Listener reading from conn.
func NewListener(conn PacketConn, cfg ListenerConfig) (*Listener, error) {
	if conn == nil || cfg.Lookup == nil || cfg.OnForeign == nil {
		return nil, errors.New("vrrp: new listener: PacketConn, Lookup and OnForeign are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{conn: conn, cfg: cfg, log: log, stats: ListenerStats{Drops: map[string]uint64{}}}, nil
}

// Stats returns a copy of the counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Drops = make(map[string]uint64, len(l.stats.Drops))
	for k, v := range l.stats.Drops {
		s.Drops[k] = v
	}
	return s
}

// Run reads until ctx ends (it then interrupts the pending read with a
// past read deadline, and clears it before returning) or the PacketConn is
// closed, and returns nil in both cases. It returns a read error that is
// neither. Only one Run may be active; it does not close the PacketConn.
func (l *Listener) Run(ctx context.Context) error {
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		_ = l.conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() { // the deadline was (or is being) set: wait and clear it
			<-interrupted
			_ = l.conn.SetReadDeadline(time.Time{})
		}
	}()
	buf := make([]byte, 1500)
	for {
		n, info, err := l.conn.ReadFrom(buf)
		if err != nil {
			switch {
			case ctx.Err() != nil, errors.Is(err, net.ErrClosed):
				return nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				continue // someone else's deadline; ours is ctx
			}
			return fmt.Errorf("vrrp: listener: %w", err)
		}
		l.handle(buf[:n], info)
	}
}

// handle processes one received message.
func (l *Listener) handle(b []byte, info PacketInfo) {
	l.mu.Lock()
	l.stats.Received++
	l.mu.Unlock()
	hl := info.HopLimit
	if !info.Dst.IsMulticast() && !l.cfg.StrictUnicastHopLimit {
		hl = -1
	}
	a, err := Parse(b, info.Src, info.Dst, ParseOptions{Options: l.cfg.Options, HopLimit: hl, AnyV3Checksum: l.cfg.AnyV3Checksum})
	if err != nil {
		l.drop(err, info)
		return
	}
	w, ok := l.cfg.Lookup(a.VRID)
	if !ok {
		l.drop(errorf("listen", ErrVRID, "vrid %d", a.VRID), info)
		return
	}
	cerr := CheckLocal(a, &w.Local)
	if cerr != nil {
		l.drop(cerr, info)
	}
	fromHolder := w.Holder.IsValid() && w.Holder.WithZone("") == info.Src.WithZone("")
	l.mu.Lock()
	if cerr == nil {
		l.stats.Valid++
	}
	if !fromHolder {
		l.stats.Foreign++
	}
	l.mu.Unlock()
	if !fromHolder {
		l.cfg.OnForeign(Foreign{Advert: a, Info: info, Expected: w.Holder, Err: cerr})
	}
}

func (l *Listener) drop(err error, info PacketInfo) {
	r := Reason(err)
	l.mu.Lock()
	l.stats.Drops[r]++
	l.mu.Unlock()
	l.log.Debug("vrrp packet dropped", "reason", r, "src", info.Src, "dst", info.Dst, "err", err)
}
