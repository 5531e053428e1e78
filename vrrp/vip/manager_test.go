package vip_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/vrrp/vip"
	"vigil/vrrp/vip/viptest"
)

var (
	vipA  = netip.MustParsePrefix("10.0.0.200/24")
	vipB  = netip.MustParsePrefix("10.0.0.201/24")
	vip6  = netip.MustParsePrefix("fd00::200/64")
	vipC  = netip.MustParsePrefix("192.168.5.10/32")
	owned = []vip.Owned{{"eth0", vipA.Addr()}, {"eth0", vipB.Addr()}, {"eth0", vip6.Addr()}, {"eth1", vipC.Addr()}}
)

// testLogger routes the package's logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func newFakeManager(t *testing.T) (*vip.Manager, *viptest.Conn, *viptest.Clock) {
	clk := viptest.NewClock()
	conn := viptest.NewConn(clk.Now, "eth0", "eth1")
	// The node's own address and a foreign one: never touched.
	for _, a := range []string{"10.0.0.11/24", "10.0.0.99/24"} {
		if err := conn.Add(vip.Address{Iface: "eth0", Prefix: netip.MustParsePrefix(a)}); err != nil {
			t.Fatal(err)
		}
	}
	conn.Calls()
	m := vip.NewManager(conn, owned, vip.ManagerOptions{Clock: clk, Slack: time.Second, Logger: testLogger(t)})
	return m, conn, clk
}

const base = "eth0 10.0.0.11/24 valid forever\neth0 10.0.0.99/24 valid forever"

// TestManagerStates drives tables of held sets and checks the whole
// address table after each; then replays them in random orders: the result
// of a Set depends only on its input, never on the history.
func TestManagerStates(t *testing.T) {
	until := viptest.Epoch.Add(3 * time.Second)
	states := []struct {
		name string
		held []vip.Hold
		want string
	}{
		{"none", nil, base},
		{"one with label", []vip.Hold{{Addr: vipA, Iface: "eth0", Label: "eth0:vip", Until: until}},
			base + "\neth0 10.0.0.200/24 label eth0:vip valid 4s"},
		{"two and IPv6", []vip.Hold{
			{Addr: vipA, Iface: "eth0", Label: "eth0:vip", Until: until},
			{Addr: vipB, Iface: "eth0", Until: until},
			{Addr: vip6, Iface: "eth0", Until: until.Add(time.Second)},
		}, base + "\neth0 10.0.0.200/24 label eth0:vip valid 4s\neth0 10.0.0.201/24 valid 4s\neth0 fd00::200/64 valid 5s"},
		{"other interface, host scope", []vip.Hold{{Addr: vipC, Iface: "eth1", Scope: vip.ScopeHost, Until: until}},
			base + "\neth1 192.168.5.10/32 scope host valid 4s"},
		{"label changed", []vip.Hold{{Addr: vipA, Iface: "eth0", Label: "eth0:new", Until: until}},
			base + "\neth0 10.0.0.200/24 label eth0:new valid 4s"},
		{"prefix changed", []vip.Hold{{Addr: netip.MustParsePrefix("10.0.0.200/32"), Iface: "eth0", Until: until}},
			base + "\neth0 10.0.0.200/32 valid 4s"},
		{"lease already over: not held", []vip.Hold{{Addr: vipA, Iface: "eth0", Until: viptest.Epoch}}, base},
	}
	m, conn, _ := newFakeManager(t)
	for _, s := range states {
		if err := m.Set(s.held); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := conn.String(); got != s.want {
			t.Fatalf("%s: state\n%s\nwant\n%s", s.name, got, s.want)
		}
	}
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		m, conn, _ := newFakeManager(t)
		for i := 0; i < 30; i++ {
			s := states[r.IntN(len(states))]
			if err := m.Set(s.held); err != nil {
				t.Fatalf("seed %d step %d %s: %v", seed, i, s.name, err)
			}
			if got := conn.String(); got != s.want {
				t.Fatalf("seed %d step %d %s: state\n%s\nwant\n%s", seed, i, s.name, got, s.want)
			}
		}
	}
}

func TestManagerIdempotent(t *testing.T) {
	m, conn, clk := newFakeManager(t)
	held := []vip.Hold{{Addr: vipA, Iface: "eth0", Until: viptest.Epoch.Add(10 * time.Second)}}
	if err := m.Set(held); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(conn.Calls(), "|"); got != "add eth0 10.0.0.200/24 valid 11s" {
		t.Fatalf("first Set: %s", got)
	}
	clk.Advance(4 * time.Second)
	if err := m.Set(held); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(conn.Calls(), "|"); got != "replace eth0 10.0.0.200/24 valid 7s" {
		t.Fatalf("second Set with the same input should only refresh the lifetime: %s", got)
	}
	// A renewal: a later Until, a longer lifetime.
	held[0].Until = clk.Now().Add(10 * time.Second)
	if err := m.Set(held); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(conn.Calls(), "|"); got != "replace eth0 10.0.0.200/24 valid 11s" {
		t.Fatalf("renewal: %s", got)
	}
}

// TestManagerSweepsLeftovers: a crashed previous run left addresses of
// ours behind; the first pass removes them and leaves the rest alone.
func TestManagerSweepsLeftovers(t *testing.T) {
	clk := viptest.NewClock()
	conn := viptest.NewConn(clk.Now, "eth0", "eth1")
	for _, a := range []vip.Address{
		{Iface: "eth0", Prefix: vipA, Label: "eth0:vip"},                            // ours, left behind
		{Iface: "eth0", Prefix: netip.MustParsePrefix("10.0.0.201/32")},             // ours, other prefix length
		{Iface: "eth0", Prefix: netip.MustParsePrefix("10.0.0.11/24")},              // the node's own
		{Iface: "eth1", Prefix: netip.MustParsePrefix("10.0.0.200/24")},             // our IP, but not our interface
		{Iface: "eth1", Prefix: netip.MustParsePrefix("fd00::200/64"), ValidLft: 9}, // ditto
	} {
		if err := conn.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	m := vip.NewManager(conn, owned, vip.ManagerOptions{Clock: clk, Logger: testLogger(t)})
	if err := m.Sweep(); err != nil {
		t.Fatal(err)
	}
	want := "eth0 10.0.0.11/24 valid forever\neth1 10.0.0.200/24 valid forever\neth1 fd00::200/64 valid 1s"
	if got := conn.String(); got != want {
		t.Fatalf("after sweep\n%s\nwant\n%s", got, want)
	}
}

// TestManagerPartialErrors: a hold on a missing interface, a malformed
// hold and a kernel failure each fail alone; the other holds apply.
func TestManagerPartialErrors(t *testing.T) {
	m, conn, _ := newFakeManager(t)
	until := viptest.Epoch.Add(3 * time.Second)
	conn.FailNext("add", syscall.ENOBUFS) // the first add (10.0.0.200 sorts first)
	err := m.Set([]vip.Hold{
		{Addr: vipA, Iface: "eth0", Until: until},
		{Addr: vipB, Iface: "eth0", Until: until},
		{Addr: netip.MustParsePrefix("10.9.9.9/24"), Iface: "nope0", Until: until},
		{Addr: vipC, Iface: "eth1", Label: "eth1:way-too-long-label", Until: until},
		{Addr: vipB, Iface: "eth1", Until: until},
		{Addr: vip6, Iface: "eth0"},
	})
	if err == nil {
		t.Fatal("no error")
	}
	t.Logf("errors:\n%v", err)
	for _, want := range []error{vip.ErrNoInterface, vip.ErrInvalid, syscall.ENOBUFS} {
		if !errors.Is(err, want) {
			t.Errorf("error does not wrap %v", want)
		}
	}
	for _, want := range []string{"add 10.9.9.9/24 on nope0", "label", "held twice", "no lease end", "add 10.0.0.200/24 on eth0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
	if got, want := conn.String(), base+"\neth0 10.0.0.201/24 valid 4s"; got != want {
		t.Fatalf("state\n%s\nwant\n%s", got, want)
	}
	// The next pass retries what failed in the kernel.
	if err := m.Sweep(); !errors.Is(err, vip.ErrNoInterface) || errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("sweep: %v", err)
	}
	if got, want := conn.String(), base+"\neth0 10.0.0.200/24 valid 4s\neth0 10.0.0.201/24 valid 4s"; got != want {
		t.Fatalf("after retry\n%s\nwant\n%s", got, want)
	}
}

// TestManagerOwnedChanges: after a config change drops a VIP, an address
// the manager added is still removed when no longer held; an address of the
// new config is swept.
func TestManagerOwnedChanges(t *testing.T) {
	m, conn, _ := newFakeManager(t)
	until := viptest.Epoch.Add(3 * time.Second)
	if err := m.Set([]vip.Hold{{Addr: vipA, Iface: "eth0", Until: until}}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetOwned([]vip.Owned{{"eth0", netip.MustParseAddr("10.0.0.99")}}); err != nil {
		t.Fatal(err)
	}
	if got, want := conn.String(), "eth0 10.0.0.11/24 valid forever\neth0 10.0.0.200/24 valid 4s"; got != want {
		t.Fatalf("after SetOwned\n%s\nwant\n%s", got, want)
	}
	if err := m.Set(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := conn.String(), "eth0 10.0.0.11/24 valid forever"; got != want {
		t.Fatalf("after release\n%s\nwant\n%s", got, want)
	}
}

// checkGoroutines fails the test if goroutines started during it are
// still running at its end.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var n int
		for i := 0; i < 100; i++ {
			if n = runtime.NumGoroutine(); n <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	})
}

// TestManagerRunExpires: Run removes a hold when its lease ends, without
// waiting for the next sweep, and stops on cancel.
func TestManagerRunExpires(t *testing.T) {
	checkGoroutines(t)
	clk := viptest.NewClock()
	conn := viptest.NewConn(clk.Now, "eth0")
	m := vip.NewManager(conn, owned, vip.ManagerOptions{Clock: clk, Slack: 5 * time.Second, Sweep: time.Minute, Logger: testLogger(t)})
	if err := m.Set([]vip.Hold{{Addr: vipA, Iface: "eth0", Until: viptest.Epoch.Add(2 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	if !clk.WaitTimers(1, 5*time.Second) {
		t.Fatal("Run did not arm its timer")
	}
	if got := conn.String(); got != "eth0 10.0.0.200/24 valid 7s" {
		t.Fatalf("before lease end: %s", got)
	}
	clk.Advance(2 * time.Second) // lease over; kernel lifetime (7 s) not
	deadline := time.Now().Add(5 * time.Second)
	for conn.String() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("address still there after lease end: %s", conn.String())
		}
		time.Sleep(time.Millisecond)
	}
	if len(m.Held()) != 0 {
		t.Errorf("Held after lease end: %v", m.Held())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
