package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/arp"

	"vigil/test/netns"
)

// procs is a set of daemons, one per director, that can be killed and
// started again.
type procs struct {
	l     *lab
	p     map[string]*netns.Proc
	argv  func(node string) []string
	label string
}

func (s *procs) start(n string) { s.p[n] = s.l.d[n].Start(s.argv(n)...) }

// dump is the tail of every daemon's output, for a failure message.
func (s *procs) dump() string {
	var b strings.Builder
	for _, n := range names {
		out := s.p[n].Output()
		if len(out) > 1500 {
			out = "..." + out[len(out)-1500:]
		}
		fmt.Fprintf(&b, "--- %s on %s ---\n%s\n", s.label, n, out)
	}
	return b.String()
}

func (s *procs) kill(n string) {
	if err := s.p[n].Signal(syscall.SIGKILL); err != nil {
		panic(netns.Failure{Msg: fmt.Sprintf("kill %s on %s: %v", s.label, n, err)})
	}
	_ = s.p[n].Cmd.Wait()
}

const vigilConf = `global_defs {
    router_id bench
}
cluster {
    name bench
    node d1 { address 10.97.0.11 192.168.97.11 }
    node d2 { address 10.97.0.12 192.168.97.12 }
    node d3 { address 10.97.0.13 192.168.97.13 }
    api_token bench-secret
TIMING}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    virtual_ipaddress {
        10.97.0.200/24
    }
}
virtual_server 10.97.0.200 9000 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 192.168.97.50 9000 {
        weight WEIGHT
    }
}
`

type vigilSys struct {
	procs
	bin, conf, timing string
}

// text is the configuration with the real server at weight w.
func (v *vigilSys) text(w int) string {
	return strings.NewReplacer("TIMING", v.timing, "WEIGHT", fmt.Sprint(w)).Replace(vigilConf)
}

// applies changes a real server's weight k times with vigil config apply
// and measures from the command's start until every director reports the
// new version applied (GET /v1/config, polled every 5 ms).
func (v *vigilSys) applies(l *lab, k int) []time.Duration {
	var out []time.Duration
	for i := range k {
		next := filepath.Join(filepath.Dir(v.conf), fmt.Sprintf("apply%d.conf", i))
		writeFile(next, v.text(2+i%2))
		t0 := time.Now()
		res, err := l.d["d1"].Run(v.bin, "config", "apply", next)
		if err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("config apply: %v\n%s", err, res)})
		}
		var version uint64
		if _, err := fmt.Sscanf(res[strings.Index(res, "version ")+len("version "):], "%d", &version); err != nil {
			panic(netns.Failure{Msg: "config apply printed no version: " + res})
		}
		for _, n := range names {
			for appliedOn(l, n) < version {
				if time.Since(t0) > 10*time.Second {
					panic(netns.Failure{Msg: fmt.Sprintf("%s did not apply version %d within 10 s\n%s", n, version, v.dump())})
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		d := time.Since(t0)
		out = append(out, d)
		fmt.Printf("  apply %2d: version %d applied on every director after %v\n", i+1, version, d.Round(time.Millisecond))
	}
	return out
}

// appliedOn is the configuration version director n runs (0 when its API
// does not answer).
func appliedOn(l *lab, n string) uint64 {
	body, err := l.d[n].Get("127.0.0.1:7070", "/v1/config", time.Second)
	var r struct{ Applied uint64 }
	if err != nil || json.Unmarshal([]byte(body), &r) != nil {
		return 0
	}
	return r.Applied
}

// startVigil starts the three agents; timing adds cluster keywords (lease,
// heartbeat) to the configuration.
func startVigil(l *lab, bin, dir, timing string) *vigilSys {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	v := &vigilSys{bin: bin, conf: filepath.Join(dir, "vigil.conf")}
	v.timing = timing
	writeFile(v.conf, v.text(1))
	v.procs = procs{l: l, p: map[string]*netns.Proc{}, label: "vigil", argv: func(n string) []string {
		return []string{bin, "agent", "-f", v.conf, "--node", n, "--data-dir", filepath.Join(dir, n), "--log-level", "warn"}
	}}
	for _, n := range names {
		v.start(n)
	}
	return v
}

// transfers hands the VIP over k times with vigil transfer (to the best
// other director) and measures the longest time no director answered ARP
// for the VIP around each handover; then it clears the pin.
func (v *vigilSys) transfers(l *lab, k int) []time.Duration {
	var out []time.Duration
	for i := range k {
		holder, _, err := l.waitAnswer(30*time.Second, func(string) bool { return true })
		if err != nil {
			panic(netns.Failure{Msg: "before transfer: " + err.Error()})
		}
		g := startARPGap(l)
		res, err := l.d[holder].Run(v.bin, "transfer", "VI_1", "-f", v.conf)
		if err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("transfer from %s: %v\n%s", holder, err, res)})
		}
		if _, _, err := l.waitAnswer(30*time.Second, func(s string) bool { return s != holder }); err != nil {
			panic(netns.Failure{Msg: "after transfer: " + err.Error()})
		}
		time.Sleep(300 * time.Millisecond)
		gap := g.stop()
		out = append(out, gap)
		fmt.Printf("  transfer %2d: from %s (%s), longest time nobody answered ARP %v\n", i+1, holder, strings.TrimSpace(res), gap.Round(time.Millisecond))
		settle(l)
	}
	if res, err := l.d["d1"].Run(v.bin, "transfer", "VI_1", "--clear", "-f", v.conf); err != nil {
		panic(netns.Failure{Msg: fmt.Sprintf("transfer --clear: %v\n%s", err, res)})
	}
	settle(l)
	return out
}

type keepalivedSys struct{ procs }

func startKeepalived(l *lab, dir string, version int, advert string) *keepalivedSys {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	k := &keepalivedSys{}
	starts := map[string]int{}
	for i, n := range names {
		conf := fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_version %d
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    virtual_ipaddress {
        10.97.0.200/24
    }
}
`, n, version, 100-i, advert)
		writeFile(filepath.Join(dir, n+".conf"), conf)
	}
	k.procs = procs{l: l, p: map[string]*netns.Proc{}, label: "keepalived", argv: func(n string) []string {
		// Fresh pid files on every start: a killed keepalived's VRRP child
		// may linger as a zombie where PID 1 does not reap, and keepalived
		// would then refuse to start ("daemon is already running").
		starts[n]++
		pid := func(s string) string { return filepath.Join(dir, fmt.Sprintf("%s.%d.%s.pid", n, starts[n], s)) }
		return []string{"keepalived", "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
			"--use-file", filepath.Join(dir, n+".conf"), "--pid", pid("main"), "--vrrp_pid", pid("vrrp"),
			"--checkers_pid", pid("checkers"), "--bfd_pid", pid("bfd")}
	}}
	for _, n := range names {
		k.start(n)
	}
	return k
}

// arpGap probes ARP for the VIP from the client every 20 ms and keeps the
// longest run of unanswered probes.
type arpGap struct {
	done   chan struct{}
	result chan time.Duration
}

func startARPGap(l *lab) *arpGap {
	g := &arpGap{done: make(chan struct{}), result: make(chan time.Duration, 1)}
	var c *arp.Client
	if err := l.client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	}); err != nil {
		panic(netns.Failure{Msg: "ARP probe: " + err.Error()})
	}
	target := netip.MustParseAddr(vip)
	go func() {
		defer c.Close()
		var longest time.Duration
		var from time.Time
		for {
			select {
			case <-g.done:
				g.result <- longest
				return
			default:
			}
			_ = c.Request(target)
			answered := false
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			for {
				p, _, err := c.Read()
				if err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
						time.Sleep(5 * time.Millisecond)
					}
					break
				}
				if p.Operation == arp.OperationReply && p.SenderIP == target {
					answered = true
				}
			}
			now := time.Now()
			switch {
			case !answered && from.IsZero():
				from = now
			case answered && !from.IsZero():
				longest = max(longest, now.Sub(from))
				from = time.Time{}
			}
		}
	}()
	return g
}

func (g *arpGap) stop() time.Duration {
	close(g.done)
	return <-g.result
}
