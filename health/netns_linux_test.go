package health_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/health"
	"vigil/test/netns"
)

// waitLine waits for the process output to hold n lines containing want
// (bounded by a generous guard) and returns when it first did.
func waitLine(t *testing.T, p *netns.Proc, want string, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.Output(), want) >= n {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %d× %q in the checker's output:\n%s", n, want, p.Output())
	return time.Time{}
}

// TestCheckersAcrossNamespaces: a director namespace checks a real server
// namespace over a bridge with TCP_CHECK, HTTP_GET and PING_CHECK (each
// its own real server entry). An nftables drop rule in the director's
// namespace cuts the path: all three go down after delay_loop + retry ×
// (timeout + delay_before_retry); removing it brings them back. Stopping the
// server process takes TCP and HTTP down while PING stays up.
func TestCheckersAcrossNamespaces(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	dir := lab.Host("dir")
	rs := lab.Host("rs")
	dir.Link(lan, "eth0", "10.7.0.11/24")
	// Allow unprivileged ICMP sockets in the director: PING_CHECK then uses
	// them rather than a raw socket (TestPingCheck covers the raw one).
	if err := dir.Sysctl("net.ipv4.ping_group_range", "0 2147483647"); err != nil {
		t.Fatal(err)
	}
	rs.Link(lan, "eth0", "10.7.0.21/24")

	// The real server: a web server whose listener lives in rs.
	var ln net.Listener
	if err := rs.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.7.0.21:80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	serve := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				bufio.NewReader(c).ReadString('\n')
				c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nvigil\n"))
			}()
		}
	}
	go serve(ln)
	t.Cleanup(func() { ln.Close() })

	retry := 1
	zero := time.Duration(0)
	base := health.CheckSpec{Target: netip.MustParseAddrPort("10.7.0.21:80"), DelayLoop: 100 * time.Millisecond,
		DelayBeforeRetry: 50 * time.Millisecond, Retry: &retry, Warmup: &zero, ConnectTimeout: 300 * time.Millisecond}
	tcp, web, ping := base, base, base
	tcp.Kind = health.KindTCP
	web.Kind, web.URLs = health.KindHTTP, []health.URLSpec{{Path: "/", Regex: "vigil"}}
	ping.Kind = health.KindPing
	spec, _ := json.Marshal([]helperServer{
		{ID: "tcp", Weight: 1, Specs: []health.CheckSpec{tcp}},
		{ID: "web", Weight: 2, Specs: []health.CheckSpec{web}},
		{ID: "ping", Weight: 3, Specs: []health.CheckSpec{ping}},
	})
	p := dir.Start("env", checkerEnv+"="+string(spec), os.Args[0])
	t.Cleanup(func() { p.Signal(syscall.SIGTERM) })

	waitLine(t, p, "up=true", 3) // the initial states
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(p.Output(), "up=false") {
		t.Fatalf("a server went down before the cut:\n%s", p.Output())
	}

	cut := time.Now()
	dir.MustRun("nft", "add table inet vgcut { chain out { type filter hook output priority 0; ip daddr 10.7.0.21 drop; }; }")
	for _, id := range []string{"state tcp up=false", "state web up=false", "state ping up=false"} {
		waitLine(t, p, id, 1)
	}
	t.Logf("all three down %v after the cut (delay_loop 100ms, retry 1, timeout 300ms, delay_before_retry 50ms)", time.Since(cut).Round(time.Millisecond))

	dir.MustRun("nft", "delete table inet vgcut")
	for _, id := range []string{"state tcp up=true weight=1", "state web up=true weight=2", "state ping up=true weight=3"} {
		waitLine(t, p, id, 2)
	}
	if !strings.Contains(p.Output(), "ping socket") {
		t.Errorf("PING_CHECK did not use the ping socket ping_group_range allows:\n%s", p.Output())
	}

	// Stop the web server: TCP and HTTP down, PING still up.
	ln.Close()
	waitLine(t, p, "state tcp up=false", 2)
	waitLine(t, p, "state web up=false", 2)
	time.Sleep(300 * time.Millisecond)
	if strings.Count(p.Output(), "state ping up=false") != 1 {
		t.Errorf("ping went down with the web server:\n%s", p.Output())
	}
	// Start it again: back.
	if err := rs.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.7.0.21:80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go serve(ln)
	waitLine(t, p, "state tcp up=true weight=1", 3)
	waitLine(t, p, "state web up=true weight=2", 3)
	t.Logf("checker output:\n%s", p.Output())
}

// lastUp is the last state the checker process reported for id.
func lastUp(out, id string) (up, ok bool) {
	i := strings.LastIndex(out, "state "+id+" up=")
	if i < 0 {
		return false, false
	}
	return strings.HasPrefix(out[i+len("state "+id+" up="):], "true"), true
}

// TestVerdictAcrossDirectors: three directors check one real server, each
// from its own namespace. Cutting one director's path (nftables drop in its
// namespace) makes it report the server down, and the majority verdict
// keeps the server up; cutting a second takes it down. (QuorumAny, for
// contrast, follows the single bad path.) Healing brings it back.
func TestVerdictAcrossDirectors(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	rs := lab.Host("rs")
	rs.Link(lan, "eth0", "10.8.0.21/24")
	var ln net.Listener
	if err := rs.Do(func() (err error) {
		ln, err = net.Listen("tcp", "10.8.0.21:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	retry := 0
	zero := time.Duration(0)
	spec, _ := json.Marshal([]helperServer{{ID: "web", Weight: 1, Specs: []health.CheckSpec{{Kind: health.KindTCP,
		Target: netip.MustParseAddrPort("10.8.0.21:8080"), DelayLoop: 100 * time.Millisecond, Retry: &retry,
		Warmup: &zero, ConnectTimeout: 200 * time.Millisecond}}}})
	names := []string{"d1", "d2", "d3"}
	hosts := map[string]*netns.Host{}
	procs := map[string]*netns.Proc{}
	for i, n := range names {
		h := lab.Host(n)
		h.Link(lan, "eth0", fmt.Sprintf("10.8.0.%d/24", 11+i))
		hosts[n] = h
		procs[n] = h.Start("env", checkerEnv+"="+string(spec), os.Args[0])
		p := procs[n]
		t.Cleanup(func() { p.Signal(syscall.SIGTERM) })
	}
	reports := func() map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			if up, ok := lastUp(procs[n].Output(), "web"); ok {
				m[n] = up
			}
		}
		return m
	}
	// waitReports waits until the directors' last reports are want.
	waitReports := func(want map[string]bool) map[string]bool {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := reports()
			same := len(got) == len(want)
			for k, v := range want {
				same = same && got[k] == v
			}
			if same {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("reports %v, want %v", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cut := func(n string) {
		hosts[n].MustRun("nft", "add table inet vgcut { chain out { type filter hook output priority 0; ip daddr 10.8.0.21 drop; }; }")
	}
	heal := func(n string) { hosts[n].MustRun("nft", "delete table inet vgcut") }
	committed := true
	decide := func(q health.Quorum, r map[string]bool) bool {
		return health.Verdict(q, committed, r, names, "d1")
	}

	r := waitReports(map[string]bool{"d1": true, "d2": true, "d3": true})
	if committed = decide(health.QuorumMajority, r); !committed {
		t.Fatal("all up, verdict down")
	}

	cut("d1")
	r = waitReports(map[string]bool{"d1": false, "d2": true, "d3": true})
	if committed = decide(health.QuorumMajority, r); !committed {
		t.Error("one director's bad path took the server out under majority")
	}
	if decide(health.QuorumAny, r) {
		t.Error("QuorumAny ignored a director's down report")
	}
	if decide(health.QuorumLeader, r) {
		t.Error("QuorumLeader ignored the leader d1's down report")
	}

	cut("d2")
	r = waitReports(map[string]bool{"d1": false, "d2": false, "d3": true})
	if committed = decide(health.QuorumMajority, r); committed {
		t.Error("two of three directors see the server down: majority verdict still up")
	}

	heal("d1")
	heal("d2")
	r = waitReports(map[string]bool{"d1": true, "d2": true, "d3": true})
	if committed = decide(health.QuorumMajority, r); !committed {
		t.Error("healed: verdict still down")
	}
}

// TestFWMark: a checker's fwmark marks its packets (SO_MARK), seen by an
// nftables counter matching the mark in the checker's namespace.
func TestFWMark(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("fw")
	h.MustRun("nft", "add table inet vgmark { chain out { type filter hook output priority 0; meta mark 0x2a counter; }; }")
	var c health.Checker
	var ln net.Listener
	var r health.Result
	err := h.Do(func() (err error) {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		if c, err = health.New(health.CheckSpec{Kind: health.KindTCP, Target: netip.MustParseAddrPort(ln.Addr().String()), FWMark: 42}); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r = c.Check(ctx) // the socket is made here, in the namespace
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !r.Up {
		t.Fatalf("check: %v", r)
	}
	out := h.MustRun("nft", "list", "table", "inet", "vgmark")
	if strings.Contains(out, "packets 0 ") || !strings.Contains(out, "packets ") {
		t.Errorf("no marked packet counted:\n%s", out)
	}
}
