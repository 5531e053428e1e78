//go:build linux

package nft_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/lvs"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// backend is a TCP server in a real-server namespace: it greets each
// connection with its name, echoes lines, and pushes on demand.
type backend struct {
	name  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startBackend(t *testing.T, h *netns.Host, addr, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	if err := h.Do(func() (err error) { b.ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				fmt.Fprintf(c, "%s\n", b.name)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", b.name, sc.Text())
				}
			}()
		}
	}()
	t.Cleanup(func() {
		b.ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

// push writes a line to every open connection, as a server speaking first.
func (b *backend) push(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		fmt.Fprintf(c, "%s\n", line)
	}
}

type lbLab struct {
	client, director *netns.Host
	dp               *nft.Datapath
	opt              nft.Options
	rs               map[string]*backend // by real server address:port
}

const vip = "10.91.0.200"

// newLBLab builds client — director — two real servers, as in
// ws-continuity.md: client side 10.91.0.0/24, real-server side
// 10.92.0.0/24, the real servers' gateway is the director.
func newLBLab(t *testing.T) *lbLab {
	lab := netns.New(t)
	cl, rsn := lab.Bridge("cl"), lab.Bridge("rs")
	c := lab.Host("c")
	c.Link(cl, "eth0", "10.91.0.100/24")
	for i := 1; i < 32; i++ {
		c.MustRun("ip", "addr", "add", fmt.Sprintf("10.91.0.%d/24", 100+i), "dev", "eth0")
	}
	d := lab.Host("d")
	d.Link(cl, "eth0", "10.91.0.11/24", vip+"/24")
	d.Link(rsn, "eth1", "10.92.0.254/24")
	for k, v := range map[string]string{
		"net.ipv4.ip_forward": "1", "net.netfilter.nf_conntrack_tcp_loose": "1",
		"net.netfilter.nf_conntrack_tcp_be_liberal": "0",
	} {
		d.MustRun("sysctl", "-qw", k+"="+v)
	}
	l := &lbLab{client: c, director: d, rs: map[string]*backend{}}
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := fmt.Sprintf("10.92.0.%d", 21+i)
		h.Link(rsn, "eth0", a+"/24")
		h.MustRun("ip", "route", "add", "default", "via", "10.92.0.254")
		l.rs[a+":8080"] = startBackend(t, h, a+":8080", name)
	}
	l.opt = nft.Options{Table: "vigil", Seed: testSeed, ClientInterface: "eth0"}
	l.dp = openDP(t, d, l.opt)
	return l
}

func twoReals() []lvs.Real {
	return []lvs.Real{
		{Addr: netip.MustParseAddr("10.92.0.21"), Port: 8080, Weight: 1, Method: lvs.NAT},
		{Addr: netip.MustParseAddr("10.92.0.22"), Port: 8080, Weight: 1, Method: lvs.NAT},
	}
}

// dial connects from src (port 0 = any) to the VIP and reads the greeting.
func (l *lbLab) dial(t *testing.T, src netip.AddrPort) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	var conn net.Conn
	err := l.client.Do(func() (err error) {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(src)}
		conn, err = d.Dial("tcp", vip+":8080")
		return err
	})
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	name, err := r.ReadString('\n')
	if err != nil {
		conn.Close()
		t.Fatalf("greeting for %s: %v", src, err)
	}
	return conn, r, strings.TrimSpace(name)
}

// TestTrafficHashPlacement sends real TCP connections through the VIP and
// checks every one lands on the real server that the Go model (JHash, Scale,
// Maglev) predicts: this pins the Go jhash to the kernel's.
func TestTrafficHashPlacement(t *testing.T) {
	l := newLBLab(t)
	for _, tc := range []struct {
		name    string
		flags   lvs.Flags
		sched   string
		persist uint8 // persistence granularity; 0 = not persistent
	}{
		{"mh by source address", 0, "mh", 0},
		{"sh-port by address and port", lvs.FlagSHPort, "sh", 0},
		{"persistence granularity /24", 0, "mh", 24},
		{"wrr + persistence_timeout: deterministic by client", 0, "wrr", 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080,
				Scheduler: tc.sched, Flags: tc.flags, Reals: twoReals()}
			if tc.persist != 0 {
				svc.PersistenceTimeout, svc.PersistenceNetmask = 300, tc.persist
			}
			if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for i := range 32 {
				src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 91, 0, byte(100 + i)}), 0)
				if tc.flags != 0 {
					src = netip.AddrPortFrom(netip.MustParseAddr("10.91.0.100"), uint16(41000+i*7))
				}
				want, ok := l.opt.Place(svc, src)
				if !ok {
					t.Fatalf("no placement for %s", src)
				}
				conn, _, got := l.dial(t, src)
				conn.Close()
				if got != l.rs[want.String()].name {
					t.Errorf("%s landed on %s, the model predicts %s (%s)", src, got, l.rs[want.String()].name, want)
				}
				count[got]++
			}
			t.Logf("placement over 32 connections: %v", count)
			if tc.persist == 24 {
				if len(count) != 1 {
					t.Errorf("one /24 of clients spread over %v", count)
				}
				return
			}
			if count["rs1"] == 0 || count["rs2"] == 0 {
				t.Errorf("one real server got nothing: %v", count)
			}
		})
	}
}

// TestTrafficRoundRobin: rr through numgen alternates between the reals.
func TestTrafficRoundRobin(t *testing.T) {
	l := newLBLab(t)
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "rr", Reals: twoReals()}
	if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	var seq []string
	for range 8 {
		conn, _, name := l.dial(t, netip.AddrPortFrom(netip.MustParseAddr("10.91.0.100"), 0))
		conn.Close()
		seq = append(seq, name)
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("rr did not alternate: %v", seq)
		}
	}
}

// TestTrafficReplySidePickup: the director loses its conntrack state (as a
// new holder after a failover has none), then the real server speaks first.
// With the pickup rule the client gets the push from the VIP and the
// connection carries on; without it (the rule deleted by hand) the push
// reaches the client from the real server's address and is lost. Apply then
// restores the rule (convergence).
func TestTrafficReplySidePickup(t *testing.T) {
	l := newLBLab(t)
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh", Reals: twoReals()}
	st := lvs.State{Services: []lvs.Service{svc}}
	if err := l.dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	serverFirst := func(t *testing.T, src netip.AddrPort) error {
		conn, r, name := l.dial(t, src)
		defer conn.Close()
		l.director.MustRun("conntrack", "-F")
		for _, b := range l.rs {
			if b.name == name {
				b.push("push")
			}
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("server push after conntrack flush: %w", err)
		}
		if line != "push\n" {
			return fmt.Errorf("got %q, want push", line)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(conn, "hello\n")
		line, err = r.ReadString('\n')
		if err != nil || line != name+" hello\n" {
			return fmt.Errorf("echo after the push: %q, %v (want %q)", line, err, name+" hello\n")
		}
		return nil
	}
	src := netip.MustParseAddrPort("10.91.0.100:42000")
	if err := serverFirst(t, src); err != nil {
		t.Fatalf("with the pickup rule: %v", err)
	}
	// Negative control: without the rule the same sequence must fail.
	out := l.director.MustRun("nft", "-a", "list", "chain", "ip", "vigil", "postrouting")
	var handle string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "snat") {
			if _, h, ok := strings.Cut(line, "# handle "); ok {
				handle = strings.TrimSpace(h)
			}
		}
	}
	if handle == "" {
		t.Fatalf("no pickup rule in:\n%s", out)
	}
	l.director.MustRun("nft", "delete", "rule", "ip", "vigil", "postrouting", "handle", handle)
	if err := serverFirst(t, netip.MustParseAddrPort("10.91.0.100:42002")); err == nil {
		t.Fatalf("without the pickup rule the server-first flow survived: the test does not test the rule")
	} else {
		t.Logf("without the pickup rule, as expected: %v", err)
	}
	if err := l.dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if err := serverFirst(t, netip.MustParseAddrPort("10.91.0.100:42004")); err != nil {
		t.Fatalf("after Apply restored the rule: %v", err)
	}
}

// TestForgetFlows: the conntrack entries of a VIP, both directions, go.
func TestForgetFlows(t *testing.T) {
	l := newLBLab(t)
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh", Reals: twoReals()}
	if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	conn, r, name := l.dial(t, netip.MustParseAddrPort("10.91.0.100:43000"))
	defer conn.Close()
	entries := func() int {
		out, _ := l.director.Run("conntrack", "-L", "-p", "tcp")
		return strings.Count(out, vip)
	}
	if entries() == 0 {
		t.Fatal("no conntrack entry for the VIP after a connection")
	}
	n, err := l.dp.ForgetFlows([]netip.Addr{netip.MustParseAddr(vip)})
	if err != nil || n == 0 {
		t.Fatalf("ForgetFlows = %d, %v", n, err)
	}
	if e := entries(); e != 0 {
		t.Errorf("%d entries mention the VIP after ForgetFlows", e)
	}
	// Loose pickup: the client speaking again recreates the flow on the
	// same real server (the hash decides), and the connection carries on.
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(conn, "again\n")
	if line, err := r.ReadString('\n'); err != nil || line != name+" again\n" {
		t.Errorf("after ForgetFlows: %q, %v", line, err)
	}
}

// TestSysctls: with Options.Sysctls, the first Apply with a NAT service
// turns on forwarding and loose TCP pickup in the datapath's namespace.
func TestSysctls(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	h.MustRun("sysctl", "-qw", "net.ipv4.ip_forward=0")
	dp := openDP(t, h, nft.Options{Sysctls: true, BeLiberal: true})
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh", Reals: twoReals()}
	if err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"net.ipv4.ip_forward", "net.netfilter.nf_conntrack_tcp_loose", "net.netfilter.nf_conntrack_tcp_be_liberal"} {
		if got := strings.TrimSpace(h.MustRun("sysctl", "-n", k)); got != "1" {
			t.Errorf("%s = %s, want 1", k, got)
		}
	}
}
