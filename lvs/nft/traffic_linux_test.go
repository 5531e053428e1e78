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
	vip              string              // the VIP (client side)
	v6               bool
}

const vip = "10.91.0.200"

// labAddr is host h of network n (1: client side, 2: real-server side) in
// the lab's address family: 10.9n.0.h or fd9n::h.
func labAddr(v6 bool, n, h int) string {
	if v6 {
		return fmt.Sprintf("fd9%d::%d", n, h)
	}
	return fmt.Sprintf("10.9%d.0.%d", n, h)
}

// prefixLen is the prefix length of the lab's networks.
func prefixLen(v6 bool) string {
	if v6 {
		return "/64"
	}
	return "/24"
}

// newLBLab builds client — director — two real servers, as in
// ws-continuity.md: client side 10.91.0.0/24, real-server side
// 10.92.0.0/24 (IPv6: fd91::/64, fd92::/64, VIP fd91::200), the real
// servers' gateway is the director.
func newLBLab(t *testing.T, v6 bool) *lbLab {
	lab := netns.New(t)
	cl, rsn := lab.Bridge("cl"), lab.Bridge("rs")
	pl := prefixLen(v6)
	c := lab.Host("c")
	c.Link(cl, "eth0", labAddr(v6, 1, 100)+pl)
	for i := 1; i < 32; i++ {
		c.MustRun("ip", "addr", "add", labAddr(v6, 1, 100+i)+pl, "dev", "eth0")
	}
	l := &lbLab{client: c, rs: map[string]*backend{}, vip: labAddr(v6, 1, 200), v6: v6}
	d := lab.Host("d")
	d.Link(cl, "eth0", labAddr(v6, 1, 11)+pl, l.vip+pl)
	d.Link(rsn, "eth1", labAddr(v6, 2, 254)+pl)
	for k, v := range map[string]string{
		"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1", "net.netfilter.nf_conntrack_tcp_loose": "1",
		"net.netfilter.nf_conntrack_tcp_be_liberal": "0",
	} {
		d.MustRun("sysctl", "-qw", k+"="+v)
	}
	l.director = d
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := labAddr(v6, 2, 21+i)
		h.Link(rsn, "eth0", a+pl)
		h.MustRun("ip", "route", "add", "default", "via", labAddr(v6, 2, 254))
		ap := net.JoinHostPort(a, "8080")
		l.rs[ap] = startBackend(t, h, ap, name)
	}
	l.opt = nft.Options{Table: "vigil", Seed: testSeed, ClientInterface: "eth0"}
	l.dp = openDP(t, d, l.opt)
	return l
}

func twoReals(v6 bool) []lvs.Real {
	return []lvs.Real{
		{Addr: netip.MustParseAddr(labAddr(v6, 2, 21)), Port: 8080, Weight: 1, Method: lvs.NAT},
		{Addr: netip.MustParseAddr(labAddr(v6, 2, 22)), Port: 8080, Weight: 1, Method: lvs.NAT},
	}
}

// clientAddr is the client's i-th source address (0..31).
func (l *lbLab) clientAddr(i int) netip.Addr { return netip.MustParseAddr(labAddr(l.v6, 1, 100+i)) }

// dial connects from src (port 0 = any) to the VIP and reads the greeting.
func (l *lbLab) dial(t *testing.T, src netip.AddrPort) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	var conn net.Conn
	err := l.client.Do(func() (err error) {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(src)}
		conn, err = d.Dial("tcp", net.JoinHostPort(l.vip, "8080"))
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

// checkPlacement dials the VIP from n client addresses (from one address
// and n ports if byPort) and checks every connection lands on the real
// server opt.Place predicts for svc. It returns the count per real server.
func (l *lbLab) checkPlacement(t *testing.T, svc lvs.Service, n int, byPort bool) map[string]int {
	t.Helper()
	count := map[string]int{}
	for i := range n {
		src := netip.AddrPortFrom(l.clientAddr(i), 0)
		if byPort {
			src = netip.AddrPortFrom(l.clientAddr(0), uint16(41000+i*7))
		}
		want, ok := l.opt.Place(svc, src)
		if !ok {
			t.Fatalf("no placement for %s", src)
		}
		conn, _, got := l.dial(t, src)
		conn.Close()
		if want.Port() == 0 { // fwmark real servers without a port: the VIP's
			want = netip.AddrPortFrom(want.Addr(), 8080)
		}
		if b := l.rs[want.String()]; b == nil || got != b.name {
			t.Errorf("%s landed on %s, the model predicts %s", src, got, want)
		}
		count[got]++
	}
	return count
}

// families runs f as one subtest per address family.
func families(t *testing.T, f func(t *testing.T, v6 bool)) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IPv4", true: "IPv6"}[v6], func(t *testing.T) { f(t, v6) })
	}
}

// TestTrafficHashPlacement sends real TCP connections through the VIP and
// checks every one lands on the real server that the Go model (JHash, Scale,
// Maglev) predicts: this pins the Go jhash to the kernel's, for IPv4 and
// IPv6 source addresses.
func TestTrafficHashPlacement(t *testing.T) {
	families(t, func(t *testing.T, v6 bool) {
		l := newLBLab(t, v6)
		net := uint8(24) // the 32 client addresses share one network
		if v6 {
			net = 120
		}
		for _, tc := range []struct {
			name    string
			flags   lvs.Flags
			sched   string
			persist uint8 // persistence granularity; 0 = not persistent
		}{
			{"mh by source address", 0, "mh", 0},
			{"sh-port by address and port", lvs.FlagSHPort, "sh", 0},
			{"persistence granularity of the clients' network", 0, "mh", net},
			{"wrr + persistence_timeout: deterministic by client", 0, "wrr", net + 8},
		} {
			t.Run(tc.name, func(t *testing.T) {
				svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080,
					Scheduler: tc.sched, Flags: tc.flags, Reals: twoReals(v6)}
				if tc.persist != 0 {
					svc.PersistenceTimeout, svc.PersistenceNetmask = 300, tc.persist
				}
				if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
					t.Fatal(err)
				}
				count := l.checkPlacement(t, svc, 32, tc.flags != 0)
				t.Logf("placement over 32 connections: %v", count)
				if tc.persist == net {
					if len(count) != 1 {
						t.Errorf("one network of clients spread over %v", count)
					}
					return
				}
				if count["rs1"] == 0 || count["rs2"] == 0 {
					t.Errorf("one real server got nothing: %v", count)
				}
			})
		}
	})
}

// TestTrafficRoundRobin: rr through numgen alternates between the reals.
func TestTrafficRoundRobin(t *testing.T) {
	families(t, func(t *testing.T, v6 bool) {
		l := newLBLab(t, v6)
		svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080, Scheduler: "rr", Reals: twoReals(v6)}
		if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
			t.Fatal(err)
		}
		var seq []string
		for range 8 {
			conn, _, name := l.dial(t, netip.AddrPortFrom(l.clientAddr(0), 0))
			conn.Close()
			seq = append(seq, name)
		}
		for i := 1; i < len(seq); i++ {
			if seq[i] == seq[i-1] {
				t.Fatalf("rr did not alternate: %v", seq)
			}
		}
	})
}

// serverFirst connects from src, flushes the director's conntrack (as a
// new holder after a failover has none), has the real server speak first,
// then the client: the connection must carry on.
func (l *lbLab) serverFirst(t *testing.T, src netip.AddrPort) error {
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

// TestTrafficReplySidePickup: the director loses its conntrack state (as a
// new holder after a failover has none), then the real server speaks first.
// With the pickup rule the client gets the push from the VIP and the
// connection carries on; without it (the rule deleted by hand) the push
// reaches the client from the real server's address and is lost. Apply then
// restores the rule (convergence). IPv4 and IPv6.
func TestTrafficReplySidePickup(t *testing.T) {
	families(t, func(t *testing.T, v6 bool) {
		l := newLBLab(t, v6)
		svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080, Scheduler: "mh", Reals: twoReals(v6)}
		st := lvs.State{Services: []lvs.Service{svc}}
		if err := l.dp.Apply(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		src := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(l.clientAddr(0), port) }
		if err := l.serverFirst(t, src(42000)); err != nil {
			t.Fatalf("with the pickup rule: %v", err)
		}
		// Negative control: without the rule the same sequence must fail.
		fam := map[bool]string{false: "ip", true: "ip6"}[v6]
		out := l.director.MustRun("nft", "-a", "list", "chain", fam, "vigil", "postrouting")
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
		l.director.MustRun("nft", "delete", "rule", fam, "vigil", "postrouting", "handle", handle)
		if err := l.serverFirst(t, src(42002)); err == nil {
			t.Fatalf("without the pickup rule the server-first flow survived: the test does not test the rule")
		} else {
			t.Logf("without the pickup rule, as expected: %v", err)
		}
		if err := l.dp.Apply(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if err := l.serverFirst(t, src(42004)); err != nil {
			t.Fatalf("after Apply restored the rule: %v", err)
		}
	})
}

// TestForgetFlows: the conntrack entries of a VIP, both directions, go
// (IPv4 and IPv6).
func TestForgetFlows(t *testing.T) {
	families(t, func(t *testing.T, v6 bool) {
		l := newLBLab(t, v6)
		svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080, Scheduler: "mh", Reals: twoReals(v6)}
		if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
			t.Fatal(err)
		}
		conn, r, name := l.dial(t, netip.AddrPortFrom(l.clientAddr(0), 43000))
		defer conn.Close()
		entries := func() int {
			out, _ := l.director.Run("conntrack", "-L", "-f", map[bool]string{false: "ipv4", true: "ipv6"}[v6], "-p", "tcp")
			return strings.Count(out, l.vip)
		}
		if entries() == 0 {
			t.Fatal("no conntrack entry for the VIP after a connection")
		}
		n, err := l.dp.ForgetFlows([]netip.Addr{netip.MustParseAddr(l.vip)})
		if err != nil || n == 0 {
			t.Fatalf("ForgetFlows = %d, %v", n, err)
		}
		if e := entries(); e != 0 {
			t.Errorf("%d entries mention the VIP after ForgetFlows", e)
		}
		// Loose pickup: the client speaking again recreates the flow on
		// the same real server (the hash decides), and the connection
		// carries on.
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(conn, "again\n")
		if line, err := r.ReadString('\n'); err != nil || line != name+" again\n" {
			t.Errorf("after ForgetFlows: %q, %v", line, err)
		}
	})
}

// TestSysctls: with Options.Sysctls, the first Apply with a NAT service
// turns on forwarding and loose TCP pickup in the datapath's namespace.
func TestSysctls(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	h.MustRun("sysctl", "-qw", "net.ipv4.ip_forward=0")
	dp := openDP(t, h, nft.Options{Sysctls: true, BeLiberal: true})
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh", Reals: twoReals(false)}
	if err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"net.ipv4.ip_forward", "net.netfilter.nf_conntrack_tcp_loose", "net.netfilter.nf_conntrack_tcp_be_liberal"} {
		if got := strings.TrimSpace(h.MustRun("sysctl", "-n", k)); got != "1" {
			t.Errorf("%s = %s, want 1", k, got)
		}
	}
}
