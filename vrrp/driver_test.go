package vrrp_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/vrrp"
	"vigil/vrrp/vrrptest"
)

var (
	holderIP = netip.MustParseAddr("10.0.0.11")
	otherIP  = netip.MustParseAddr("10.0.0.12")
	rogueIP  = netip.MustParseAddr("10.0.0.66")
	obsIP    = netip.MustParseAddr("10.0.0.99")
	vip      = netip.MustParseAddr("10.0.0.100")
)

// checkGoroutines fails the test if goroutines running vrrp code outlive it.
func checkGoroutines(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var stacks string
		for range 100 {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			leaked := false
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "vigil/vrrp.(*") && !strings.Contains(g, "testing.tRunner") {
					leaked = true
				}
			}
			if !leaked {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("leaked goroutines:\n%s", stacks)
	})
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// recv reads and parses the next advert on p.
func recv(t *testing.T, p *vrrptest.Port, wait time.Duration) (*vrrp.Advert, vrrp.PacketInfo, error) {
	t.Helper()
	p.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1500)
	n, info, err := p.ReadFrom(buf)
	if err != nil {
		return nil, info, err
	}
	a, err := vrrp.Parse(buf[:n], info.Src, info.Dst, vrrp.ParseOptions{HopLimit: info.HopLimit})
	if err != nil {
		t.Fatalf("Parse of a sent advert: %v", err)
	}
	return a, info, nil
}

func advert() vrrp.Advert {
	return vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: 20 * time.Millisecond, Addrs: []netip.Addr{vip}}
}

// runSender runs a Sender of holderIP's adverts to the group until the
// test ends, and returns it with an observer's port on the LAN.
func runSender(t *testing.T) (*vrrp.Sender, *vrrptest.Port) {
	t.Helper()
	lan := vrrptest.NewLAN()
	conn, obs := lan.Port(holderIP), lan.Port(obsIP)
	s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: holderIP, Dsts: []netip.Addr{vrrp.GroupV4}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, obs
}

func TestSenderHoldRelease(t *testing.T) {
	checkGoroutines(t)
	s, obs := runSender(t)

	// Not holding: silence.
	if a, _, err := recv(t, obs, 60*time.Millisecond); err == nil {
		t.Fatalf("advert before Hold: %+v", a)
	}
	if err := s.Hold(advert()); err != nil {
		t.Fatal(err)
	}
	// One at once, then periodic ones, all with the held fields.
	for i := range 4 {
		a, info, err := recv(t, obs, time.Second)
		if err != nil {
			t.Fatalf("advert %d: %v", i, err)
		}
		if info.Src != holderIP || a.Priority != 200 || a.VRID != 51 || len(a.Addrs) != 1 || a.Addrs[0] != vip {
			t.Fatalf("advert %d: %+v from %v", i, a, info.Src)
		}
	}
	// Update the priority: new adverts carry it.
	upd := advert()
	upd.Priority = 150
	if err := s.Hold(upd); err != nil {
		t.Fatal(err)
	}
	// Holding the same advert again is a no-op: no extra advert.
	sent := s.Stats().Sent
	for range 3 {
		if err := s.Hold(upd); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().Sent; got > sent+1 { // +1: a periodic one may fall in between
		t.Errorf("repeated Hold sent %d adverts", got-sent)
	}
	for {
		a, _, err := recv(t, obs, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if a.Priority == 150 {
			break
		}
	}
	if !s.Holding() {
		t.Fatal("Holding = false while holding")
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	// Drain up to the priority-0 advert; nothing may follow it.
	for {
		a, _, err := recv(t, obs, time.Second)
		if err != nil {
			t.Fatalf("no priority-0 advert: %v", err)
		}
		if a.Priority == 0 {
			break
		}
	}
	if a, _, err := recv(t, obs, 100*time.Millisecond); err == nil {
		t.Fatalf("advert after release: %+v", a)
	}
	if s.Holding() {
		t.Error("Holding after Release")
	}
	if err := s.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if st := s.Stats(); st.Sent < 6 || st.Errors != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestSenderLease: no periodic advert once the lease ends (a holder frozen
// past its lease that runs again stays silent); a renewal resumes them;
// Release still sends the priority-0 advert.
func TestSenderLease(t *testing.T) {
	checkGoroutines(t)
	s, obs := runSender(t)
	s.Lease(time.Now().Add(50 * time.Millisecond))
	if err := s.Hold(advert()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the lease is over
	for {                              // drain what was sent within it
		if _, _, err := recv(t, obs, 30*time.Millisecond); err != nil {
			break
		}
	}
	if a, _, err := recv(t, obs, 100*time.Millisecond); err == nil {
		t.Fatalf("advert after the lease end: %+v", a)
	}
	s.Lease(time.Now().Add(time.Second))
	if _, _, err := recv(t, obs, time.Second); err != nil {
		t.Fatalf("no advert after a renewal: %v", err)
	}
	s.Lease(time.Now())
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	for {
		a, _, err := recv(t, obs, time.Second)
		if err != nil {
			t.Fatalf("no priority-0 advert after the lease end: %v", err)
		}
		if a.Priority == 0 {
			break
		}
	}
}

func TestSenderUnicastPeers(t *testing.T) {
	lan := vrrptest.NewLAN()
	conn, p1, p2, bystander := lan.Port(holderIP), lan.Port(otherIP), lan.Port(obsIP), lan.Port(rogueIP)
	s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: holderIP, Dsts: []netip.Addr{otherIP, obsIP}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Hold(advert()); err != nil { // sends at once, even without Run
		t.Fatal(err)
	}
	for _, p := range []*vrrptest.Port{p1, p2} {
		// recv verifies the v3 checksum against each peer's address.
		if a, info, err := recv(t, p, time.Second); err != nil || info.Dst != p.Addr() || a.Priority != 200 {
			t.Fatalf("peer %v: %+v %+v %v", p.Addr(), a, info, err)
		}
	}
	if a, _, err := recv(t, bystander, 50*time.Millisecond); err == nil {
		t.Fatalf("bystander got %+v", a)
	}
}

func TestSenderErrors(t *testing.T) {
	lan := vrrptest.NewLAN()
	conn := lan.Port(holderIP)
	if _, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: holderIP}); err == nil {
		t.Error("NewSender without destinations succeeded")
	}
	if _, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: holderIP, Dsts: []netip.Addr{vrrp.GroupV6}}); !errors.Is(err, vrrp.ErrAddrFamily) {
		t.Errorf("NewSender with an IPv6 group from IPv4: %v", err)
	}
	s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: holderIP, Dsts: []netip.Addr{vrrp.GroupV4}})
	if err != nil {
		t.Fatal(err)
	}
	bad := advert()
	bad.Interval = 0
	if err := s.Hold(bad); !errors.Is(err, vrrp.ErrInterval) {
		t.Errorf("Hold with interval 0: %v", err)
	}
	bad = advert()
	bad.Priority = 0
	if err := s.Hold(bad); err == nil || s.Holding() {
		t.Errorf("Hold with priority 0: %v, holding %v", err, s.Holding())
	}
	bad = advert()
	bad.Addrs = nil
	if err := s.Hold(bad); !errors.Is(err, vrrp.ErrAddrCount) || s.Holding() {
		t.Errorf("Hold without addresses: %v, holding %v", err, s.Holding())
	}
	conn.Close()
	if err := s.Hold(advert()); err == nil || s.Stats().Errors != 1 {
		t.Errorf("Hold on a closed conn: %v, stats %+v", err, s.Stats())
	}
}

// foreignLog collects OnForeign reports.
type foreignLog struct {
	mu  sync.Mutex
	got []vrrp.Foreign
}

func (f *foreignLog) add(x vrrp.Foreign) { f.mu.Lock(); f.got = append(f.got, x); f.mu.Unlock() }
func (f *foreignLog) len() int           { f.mu.Lock(); defer f.mu.Unlock(); return len(f.got) }

func TestListenerReportsForeignAndCountsDrops(t *testing.T) {
	checkGoroutines(t)
	lan := vrrptest.NewLAN()
	lc := lan.Port(obsIP)
	holder, rogue := lan.Port(holderIP), lan.Port(rogueIP)
	local := vrrp.Local{Version: 3, Addrs: []netip.Addr{vip}}
	var fl foreignLog
	l, err := vrrp.NewListener(lc, vrrp.ListenerConfig{
		Lookup: func(vrid uint8) (vrrp.Watch, bool) {
			if vrid == 51 {
				return vrrp.Watch{Local: local, Holder: holderIP}, true
			}
			if vrid == 52 { // ours, nobody should be advertising
				return vrrp.Watch{Local: local}, true
			}
			return vrrp.Watch{}, false
		},
		OnForeign: fl.add,
		Logger:    testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	send := func(p *vrrptest.Port, a vrrp.Advert, dst netip.Addr) {
		t.Helper()
		b, err := a.Marshal(p.Addr(), dst, vrrp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p.WriteTo(b, dst)
	}
	a := advert()
	send(holder, a, vrrp.GroupV4) // the holder: valid, not foreign
	send(rogue, a, vrrp.GroupV4)  // a rogue for VRID 51: foreign #1
	a52 := a
	a52.VRID = 52
	send(holder, a52, vrrp.GroupV4) // nobody holds 52: foreign #2 (even from our holder's address)
	a99 := a
	a99.VRID = 99
	send(rogue, a99, vrrp.GroupV4) // not ours: drop "vrid"
	wrong := a
	wrong.Addrs = []netip.Addr{netip.MustParseAddr("10.0.0.200")}
	send(rogue, wrong, vrrp.GroupV4)              // foreign #3 with ErrAddrList, drop "addr_list"
	rogue.WriteTo([]byte{0x31, 51}, vrrp.GroupV4) // drop "short"
	rogue.WriteTo(make([]byte, 16), vrrp.GroupV4) // version 0: drop "version"
	b, _ := a.Marshal(rogueIP, vrrp.GroupV4, vrrp.Options{})
	b[6] ^= 0xff
	rogue.WriteTo(b, vrrp.GroupV4) // drop "checksum"
	rogue.SetHopLimit(1)
	send(rogue, a, vrrp.GroupV4) // drop "ttl" (RFC 5798 §7.1: not from this link)

	want := vrrp.ListenerStats{Received: 9, Valid: 3, Foreign: 3,
		Drops: map[string]uint64{"vrid": 1, "addr_list": 1, "short": 1, "version": 1, "checksum": 1, "ttl": 1}}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Received < want.Received && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	got := l.Stats()
	if got.Received != want.Received || got.Valid != want.Valid || got.Foreign != want.Foreign || len(got.Drops) != len(want.Drops) {
		t.Fatalf("Stats = %+v\nwant %+v", got, want)
	}
	for k, v := range want.Drops {
		if got.Drops[k] != v {
			t.Errorf("Drops[%q] = %d, want %d", k, got.Drops[k], v)
		}
	}
	if fl.len() != 3 {
		t.Fatalf("foreign reports: %+v", fl.got)
	}
	if f := fl.got[0]; f.Info.Src != rogueIP || f.Expected != holderIP || f.Advert.VRID != 51 || f.Err != nil {
		t.Errorf("foreign #1 = %+v", f)
	}
	if f := fl.got[1]; f.Info.Src != holderIP || f.Expected.IsValid() || f.Advert.VRID != 52 {
		t.Errorf("foreign #2 = %+v", f)
	}
	if f := fl.got[2]; !errors.Is(f.Err, vrrp.ErrAddrList) {
		t.Errorf("foreign #3 = %+v", f)
	}

	// Run cleared its deadline: the conn is reusable.
	holder.WriteTo(b, vrrp.GroupV4)
	lc.SetReadDeadline(time.Time{})
	go func() { time.Sleep(time.Second); lc.Close() }()
	if _, _, err := lc.ReadFrom(make([]byte, 100)); err != nil {
		t.Errorf("ReadFrom after Run: %v", err)
	}
}

// Lossy, duplicating, reordering LAN: the listener never reports the holder
// and reports the rogue's duplicates as they come.
func TestListenerUnderFaults(t *testing.T) {
	checkGoroutines(t)
	lan := vrrptest.NewLAN()
	n := 0
	lan.SetFault(func(d vrrptest.Delivery) vrrptest.Fate {
		if d.To != obsIP {
			return vrrptest.Fate{Drop: true}
		}
		n++
		switch n % 4 {
		case 0:
			return vrrptest.Fate{Drop: true}
		case 1:
			return vrrptest.Fate{Copies: 2}
		case 2:
			return vrrptest.Fate{Delay: 30 * time.Millisecond}
		}
		return vrrptest.Fate{}
	})
	lc := lan.Port(obsIP)
	var fl foreignLog
	l, _ := vrrp.NewListener(lc, vrrp.ListenerConfig{
		Lookup: func(uint8) (vrrp.Watch, bool) {
			return vrrp.Watch{Local: vrrp.Local{Version: 3}, Holder: holderIP}, true
		},
		OnForeign: fl.add,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	hs, _ := vrrp.NewSender(lan.Port(holderIP), vrrp.SenderConfig{Src: holderIP, Dsts: []netip.Addr{vrrp.GroupV4}})
	rs, _ := vrrp.NewSender(lan.Port(rogueIP), vrrp.SenderConfig{Src: rogueIP, Dsts: []netip.Addr{vrrp.GroupV4}})
	for i := range 8 {
		a := advert()
		a.Priority = uint8(100 + i) // a new advert each time: Hold sends at once
		hs.Hold(a)
		rs.Hold(a)
	}
	// 16 writes: deliveries 1..16, 4 dropped, 4 tripled, 4 delayed.
	want := uint64(4*3 + 4 + 4)
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Received < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	st := l.Stats()
	if st.Received != want || st.Valid != want || len(st.Drops) != 0 {
		t.Fatalf("Stats = %+v, want %d received and valid", st, want)
	}
	for _, f := range fl.got {
		if f.Info.Src != rogueIP {
			t.Errorf("reported %v", f.Info.Src)
		}
	}
	if uint64(fl.len()) != st.Foreign || st.Foreign == 0 || st.Foreign == want {
		t.Errorf("foreign = %d, stats %+v", fl.len(), st)
	}
}

func TestListenerStopsOnClose(t *testing.T) {
	checkGoroutines(t)
	lc := vrrptest.NewLAN().Port(obsIP)
	l, _ := vrrp.NewListener(lc, vrrp.ListenerConfig{
		Lookup:    func(uint8) (vrrp.Watch, bool) { return vrrp.Watch{}, false },
		OnForeign: func(vrrp.Foreign) {},
	})
	done := make(chan error)
	go func() { done <- l.Run(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	lc.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v", err)
	}
}

// Garbage never stops the listener: every message is either valid or
// counted under exactly one drop reason.
func TestListenerSurvivesGarbage(t *testing.T) {
	checkGoroutines(t)
	lan := vrrptest.NewLAN()
	lc, tx := lan.Port(obsIP), lan.Port(rogueIP)
	l, _ := vrrp.NewListener(lc, vrrp.ListenerConfig{
		Lookup:    func(vrid uint8) (vrrp.Watch, bool) { return vrrp.Watch{Local: vrrp.Local{Version: 3}}, vrid%2 == 0 },
		OnForeign: func(vrrp.Foreign) {},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	rng := rand.New(rand.NewPCG(1, 2))
	adv := advert()
	valid, _ := adv.Marshal(rogueIP, vrrp.GroupV4, vrrp.Options{})
	const n = 2000
	for i := range n {
		var b []byte
		switch i % 3 {
		case 0: // random bytes
			b = make([]byte, rng.IntN(64))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if len(b) > 0 && rng.IntN(2) == 0 {
				b[0] = 0x31 // get past the version check more often
			}
		case 1: // a valid advert with one random byte changed
			b = append([]byte(nil), valid...)
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		case 2: // truncated or extended
			b = append([]byte(nil), valid...)
			if k := rng.IntN(len(b) + 8); k < len(b) {
				b = b[:k]
			} else {
				b = append(b, make([]byte, k-len(b)+1)...)
			}
		}
		tx.WriteTo(b, vrrp.GroupV4)
		if i%200 == 0 { // let the listener keep up with the 256-deep queue
			for l.Stats().Received < uint64(i) {
				time.Sleep(time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Received < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	var dropped uint64
	for _, v := range st.Drops {
		dropped += v
	}
	if st.Received != n || dropped+st.Valid != n || st.Drops[vrrp.ReasonOther] != 0 {
		t.Fatalf("stats %+v: want %d received, each valid or dropped once with a reason", st, n)
	}
	t.Logf("drops by reason: %v, valid %d", st.Drops, st.Valid)
}

// keepalived sends IPv6 unicast adverts with hop limit 64: by default the
// listener checks the hop limit of multicast adverts only, as keepalived.
func TestListenerUnicastHopLimit(t *testing.T) {
	for _, strict := range []bool{false, true} {
		lan := vrrptest.NewLAN()
		lc, tx := lan.Port(obsIP), lan.Port(rogueIP)
		tx.SetHopLimit(64)
		var fl foreignLog
		l, _ := vrrp.NewListener(lc, vrrp.ListenerConfig{
			Lookup:                func(uint8) (vrrp.Watch, bool) { return vrrp.Watch{Local: vrrp.Local{Version: 3}}, true },
			OnForeign:             fl.add,
			StrictUnicastHopLimit: strict,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- l.Run(ctx) }()
		a := advert()
		for _, dst := range []netip.Addr{obsIP, vrrp.GroupV4} {
			b, _ := a.Marshal(rogueIP, dst, vrrp.Options{})
			tx.WriteTo(b, dst)
		}
		for deadline := time.Now().Add(5 * time.Second); l.Stats().Received < 2 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		st := l.Stats()
		wantTTLDrops, wantForeign := uint64(1), 1 // the multicast one is always checked
		if strict {
			wantTTLDrops, wantForeign = 2, 0
		}
		if st.Drops["ttl"] != wantTTLDrops || fl.len() != wantForeign {
			t.Errorf("strict=%v: stats %+v, %d foreign; want %d ttl drops, %d foreign", strict, st, fl.len(), wantTTLDrops, wantForeign)
		}
	}
}
