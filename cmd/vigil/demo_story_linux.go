package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"vigil/cluster/agent"
	"vigil/test/netns"
)

const (
	demoVIP  = "10.91.0.200"
	demoAddr = demoVIP + ":8080"
)

const demoConf = `# vigil demo: three directors, two links, NAT load balancing.
global_defs {
    router_id vigil-demo
    vrrp_garp_master_delay 1
    vrrp_garp_master_refresh 2
}
cluster {
    name vigil-demo
    data_dir DIR
    node d1 { address 10.91.0.11 10.92.0.11 }   # front link, back link
    node d2 { address 10.91.0.12 10.92.0.12 }
    node d3 { address 10.91.0.13 10.92.0.13 }
    api_listen 127.0.0.1:7070
    datapath nftables
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    node d2 { priority 99 }
    node d3 { priority 98 }
    advert_int 1
    virtual_ipaddress {
        10.91.0.200/24 dev eth0   # the service address clients use
        10.92.0.254/24 dev eth1   # the real servers' gateway, moves with it
    }
}
virtual_server 10.91.0.200 8080 {
    lb_algo mh
    lb_kind NAT
    protocol TCP
    real_server 10.92.0.21 8080 { weight 1 }
    real_server 10.92.0.22 8080 { weight 1 }
}
`

type demoDirector struct {
	host  *netns.Host
	front *netns.Iface
	back  *netns.Iface
	proc  *netns.Proc
	mac   string // of front, where clients reach the VIP
}

// story is the demo's lab and its narration.
type story struct {
	out    io.Writer
	start  time.Time
	exe    string
	dir    string
	conf   string
	lab    *netns.Lab
	d      map[string]*demoDirector
	client *netns.Host
}

func (s *story) say(format string, args ...any) {
	fmt.Fprintf(s.out, "[%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func (s *story) fail(format string, args ...any) {
	panic(netns.Failure{Msg: fmt.Sprintf(format, args...)})
}

func (s *story) build(t *netns.Standalone, keep bool) {
	s.say("building the lab: 3 directors, 2 real servers, 1 client, 2 links (namespaces vigdemo-*)")
	s.lab = netns.NewNamed(t, demoPrefix)
	s.lab.Keep = keep
	t.Cleanup(s.lab.Close)
	front, back := s.lab.Bridge("front"), s.lab.Bridge("back")
	s.conf = filepath.Join(s.dir, "vigil.conf")
	conf := strings.Replace(demoConf, "DIR", s.dir, 1)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		s.fail("write %s: %v", s.conf, err)
	}
	s.d = map[string]*demoDirector{}
	for i, n := range []string{"d1", "d2", "d3"} {
		h := s.lab.Host(n)
		d := &demoDirector{host: h}
		d.front = h.Link(front, "eth0", fmt.Sprintf("10.91.0.%d/24", 11+i))
		d.back = h.Link(back, "eth1", fmt.Sprintf("10.92.0.%d/24", 11+i))
		mac, err := d.front.MAC()
		if err != nil {
			s.fail("%v", err)
		}
		d.mac = mac
		s.d[n] = d
	}
	for i, n := range []string{"rs1", "rs2"} {
		h := s.lab.Host(n)
		h.Link(back, "eth0", fmt.Sprintf("10.92.0.%d/24", 21+i))
		h.MustRun("ip", "route", "add", "default", "via", "10.92.0.254")
		h.Start(s.exe, "demo-server", "--name", n, "--listen", ":8080")
	}
	s.client = s.lab.Host("client")
	s.client.Link(front, "eth0", "10.91.0.100/24")
	s.say("config: %s (one file for the whole cluster)", s.conf)
}

func (s *story) startAgent(n string) {
	d := s.d[n]
	log, err := os.Create(filepath.Join(s.dir, n+".log"))
	if err != nil {
		s.fail("%v", err)
	}
	log.Close()
	d.proc = d.host.Start("sh", "-c", fmt.Sprintf("exec %s agent -f %s --node %s --data-dir %s >>%s 2>&1",
		s.exe, s.conf, n, filepath.Join(s.dir, n), filepath.Join(s.dir, n+".log")))
}

// holders lists the directors that answer ARP for the VIP now, as the
// client sees them.
func (s *story) holders() []string {
	macs, err := whoAnswers(s.client, netip.MustParseAddr(demoVIP))
	if err != nil {
		s.fail("ARP from the client: %v", err)
	}
	var hs []string
	for _, m := range macs {
		name := "a stranger " + m
		for n, d := range s.d {
			if d.mac == m {
				name = n
			}
		}
		hs = append(hs, name)
	}
	slices.Sort(hs)
	return hs
}

// hasVIP reports whether director n has the VIP on its interface.
func (s *story) hasVIP(n string) bool {
	out, err := s.d[n].host.Run("ip", "-o", "-4", "addr", "show", "dev", "eth0")
	return err == nil && strings.Contains(out, " "+demoVIP+"/")
}

// waitFor polls cond every 50 ms, printing a dot every second, until it
// holds or within passes; it returns how long it took.
func (s *story) waitFor(what string, within time.Duration, cond func() bool) time.Duration {
	t0 := time.Now()
	dots := 0
	for !cond() {
		if time.Since(t0) > within {
			fmt.Fprintln(s.out)
			s.fail("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
		if d := int(time.Since(t0) / time.Second); d > dots {
			if dots == 0 {
				fmt.Fprintf(s.out, "          waiting for %s ", what)
			}
			fmt.Fprint(s.out, ".")
			dots = d
		}
	}
	if dots > 0 {
		fmt.Fprintln(s.out)
	}
	return time.Since(t0)
}

func (s *story) status(from string) {
	out, err := s.d[from].host.Run(s.exe, "status")
	if err != nil {
		s.fail("vigil status on %s: %v", from, err)
	}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(s.out, "          | %s\n", line)
	}
}

// roles returns the Raft leader and VI_1's holder as director from sees
// them ("" when unknown).
func (s *story) roles(from string) (leader, holder string) {
	out, err := s.d[from].host.Run(s.exe, "status", "--json")
	if err != nil {
		return "", ""
	}
	var st agent.ClusterStatus
	if json.Unmarshal([]byte(out), &st) != nil {
		return "", ""
	}
	for _, i := range st.Instances {
		if i.Name == "VI_1" {
			holder = i.Holder
		}
	}
	return st.Leader, holder
}

func (s *story) run() {
	for _, n := range []string{"d1", "d2", "d3"} {
		s.startAgent(n)
	}
	s.say("started vigil agent on d1, d2, d3 (logs in %s/d?.log)", s.dir)
	var first string
	s.waitFor("the cluster to elect a holder and the VIP to answer", 30*time.Second, func() bool {
		name, err := httpGet(s.client, demoAddr, 300*time.Millisecond)
		first = name
		return err == nil && name != ""
	})
	holder := s.holders()
	s.say("the VIP %s answers (real server %s through %v); the cluster as d2 sees it:", demoVIP, first, holder)
	s.status("d2")

	ws, err := openWS(s.client, demoAddr)
	if err != nil {
		s.fail("%v", err)
	}
	defer ws.close()
	time.Sleep(2 * time.Second)
	servers, _, sent, got, werr := ws.report()
	if werr != nil {
		s.fail("WebSocket broke before any failure: %v", werr)
	}
	s.say("the client holds a WebSocket through the VIP to %v: %d messages sent, %d received", servers, sent, got)

	if len(holder) != 1 {
		s.fail("expected one holder, have %v", holder)
	}
	old := holder[0]
	var leader string
	s.waitFor("the Raft leadership to move off the VIP holder", 30*time.Second, func() bool {
		var holding string
		leader, holding = s.roles("d2")
		return leader != "" && holding == old && leader != old
	})
	s.say("Raft leader %s, VIP holder %s: vigil keeps the roles apart once the cluster is quiet, so a crash costs a lease wait or an election, not both", leader, old)
	s.say("kill -9 of the holder %s", old)
	if err := s.d[old].proc.Signal(syscall.SIGKILL); err != nil {
		s.fail("kill %s: %v", old, err)
	}
	_ = s.d[old].proc.Cmd.Wait()
	took := s.waitFor("another director to take the VIP over", 30*time.Second, func() bool {
		hs := s.holders()
		if len(hs) != 1 || hs[0] == old {
			return false
		}
		_, err := httpGet(s.client, demoAddr, 200*time.Millisecond)
		return err == nil
	})
	now := s.holders()
	s.say("failover: %v answers for the VIP %.2fs after the kill (new connection through the new holder)", now, took.Seconds())
	time.Sleep(1500 * time.Millisecond) // let the WebSocket carry on a little
	servers, gap, sent, got, werr := ws.report()
	switch {
	case werr != nil:
		s.say("the WebSocket broke: %v", werr)
	case len(servers) != 1:
		s.say("the WebSocket answers came from several real servers: %v", servers)
	default:
		s.say("the WebSocket stayed connected to %s across the failover: %d sent, %d received, longest pause %.2fs",
			servers[0], sent, got, gap.Seconds())
	}

	s.say("%s comes back from its data directory", old)
	s.startAgent(old)
	s.waitFor(old+" to rejoin and take the VIP back (it has the highest priority)", 30*time.Second, func() bool {
		hs := s.holders()
		return len(hs) == 1 && hs[0] == old
	})
	s.say("%s holds the VIP again", old)

	s.say("cutting %s off on both links (front and back)", old)
	d := s.d[old]
	_ = d.front.Down()
	_ = d.back.Down()
	cut := time.Now()
	var dropped, taken time.Duration
	overlap := false
	s.waitFor("the isolated holder to drop the VIP and the majority to take it", 30*time.Second, func() bool {
		hs := s.holders()
		if len(hs) > 1 {
			overlap = true
		}
		if dropped == 0 && !s.hasVIP(old) {
			dropped = time.Since(cut)
		}
		if taken == 0 && len(hs) == 1 && hs[0] != old {
			taken = time.Since(cut)
		}
		return dropped > 0 && taken > 0
	})
	s.say("%s removed the VIP %.2fs after the cut (its lease ran out); %v answered for it %.2fs after the cut",
		old, dropped.Seconds(), s.holders(), taken.Seconds())
	if overlap {
		s.say("TWO DIRECTORS ANSWERED FOR THE VIP AT ONCE: this is a bug, please report it")
	} else {
		s.say("never two directors answering at once (the client asked every 50 ms)")
	}
	_ = d.front.Up()
	_ = d.back.Up()
	s.waitFor("the cluster to heal", 30*time.Second, func() bool { return len(s.holders()) == 1 })
	s.say("links restored; the cluster as %s sees it:", old)
	time.Sleep(time.Second)
	s.status(old)
	s.say("done in %.0fs", time.Since(s.start).Seconds())
}

func (s *story) printKeep() {
	fmt.Fprintf(s.out, `
The lab is still running (--keep). Look at it with:
  ip netns exec vigdemo-d1 %[1]s status          # or d2, d3; --json for the API's JSON
  ip netns exec vigdemo-d1 curl -s 127.0.0.1:7070/v1/status
  ip netns exec vigdemo-client curl -s %[2]s     # the service through the VIP
  ip netns exec vigdemo-d1 nft list ruleset       # the load balancer
  tail -f %[3]s/d1.log                             # an agent's log
Remove it with: %[1]s demo --clean
`, s.exe, demoAddr, s.dir)
}
