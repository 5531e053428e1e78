// Package netns builds throwaway test networks out of Linux network
// namespaces: hosts joined by bridges through veth pairs, with processes and
// Go code running inside them. It is the harness of every test that needs a
// real kernel: directors, real servers, clients, a keepalived peer and an
// observer each get their own namespace.
//
// Every object a Lab creates carries a random prefix ("vg" plus four hex
// digits), so labs of tests running in parallel never collide, and
// everything is removed by Close, which New registers with t.Cleanup: on
// success, on failure and on panic. Bridges live in a switch namespace of
// their own, so the root namespace of the machine is never touched.
//
// Only private addresses inside namespaces a Lab created may be used: tests
// never send traffic anywhere else.
//
// Usage:
//
//	lab := netns.New(t) // skips the test when not root
//	lan := lab.Bridge("lan")
//	d1 := lab.Host("d1")
//	d1.Link(lan, "eth0", "10.0.0.11/24")
//	out, err := d1.Run("ip", "addr")
//	cmd := d1.Start("keepalived", "-n", "-f", conf) // killed at cleanup
//	err = d1.Do(func() error { /* Go code inside d1's namespace */ return nil })
package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// T is what a Lab needs of its user: *testing.T and *testing.B satisfy it,
// and `vigil demo` implements it to build its lab outside a test.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// Lab is one test network: its namespaces, bridges and processes.
type Lab struct {
	t      T
	prefix string
	sw     string // the switch namespace that holds the bridges

	// Keep makes processes outlive the program that started them (no
	// parent-death signal): `vigil demo --keep` leaves its lab running.
	Keep bool

	mu     sync.Mutex
	hosts  []*Host
	procs  []*exec.Cmd
	nveth  int
	closed bool
}

// New creates an empty lab and registers its Close with t.Cleanup. It skips
// the test when not running as root (namespaces need CAP_SYS_ADMIN and
// CAP_NET_ADMIN), and fails it when the ip command is missing.
func New(t T) *Lab {
	t.Helper()
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("netns: random prefix: %v", err)
	}
	return NewNamed(t, "vg"+hex.EncodeToString(b[:]))
}

// NewNamed is New with a fixed prefix (at most 8 bytes, so interface
// names fit), for a lab that must be found again later, as `vigil demo
// --clean` does. Namespaces left over under the same prefix are removed
// first.
func NewNamed(t T, prefix string) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (run the suite with sudo, or `make test` as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("netns: the ip command is missing: apt-get install iproute2")
	}
	if len(prefix) > 8 {
		t.Fatalf("netns: prefix %q longer than 8 bytes", prefix)
	}
	Remove(prefix)
	l := &Lab{t: t, prefix: prefix}
	l.sw = l.prefix + "-sw"
	t.Cleanup(l.Close)
	if err := l.ip("netns", "add", l.sw); err != nil {
		t.Fatalf("netns: %v", err)
	}
	return l
}

// Prefix is the random prefix of every name in this lab.
func (l *Lab) Prefix() string { return l.prefix }

// Bridge is an L2 segment: a Linux bridge in the lab's switch namespace.
type Bridge struct {
	lab  *Lab
	name string

	// ports and taps are the switch-side ends of the bridge's links and
	// of its taps (guarded by lab.mu).
	ports, taps []string
}

// Name is the bridge's interface name in the switch namespace.
func (b *Bridge) Name() string { return b.name }

// Bridge creates a bridge with STP off, no forwarding delay and multicast
// snooping off (so VRRP adverts flood to every port, as on a plain switch).
func (l *Lab) Bridge(name string) *Bridge {
	l.t.Helper()
	br := &Bridge{lab: l, name: shortName(name)}
	l.must(l.ipn(l.sw, "link", "add", br.name, "type", "bridge",
		"stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"))
	l.must(l.ipn(l.sw, "link", "set", br.name, "up"))
	return br
}

// Namespace is the switch namespace holding the bridge: sniff it there
// (`ip netns exec NS tshark -i BRIDGE`) to see every frame on the segment.
func (b *Bridge) Namespace() string { return b.lab.sw }

// Host is one network namespace: a director, a real server, a client.
type Host struct {
	lab  *Lab
	name string // short name given by the test
	ns   string // namespace name
}

// Host creates a namespace with loopback up, IPv6 duplicate address
// detection off (addresses are usable at once) and forwarding off.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	h := &Host{lab: l, name: name, ns: l.prefix + "-" + name}
	l.must(l.ip("netns", "add", h.ns))
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	l.must(l.ipn(h.ns, "link", "set", "lo", "up"))
	for _, kv := range [][2]string{
		{"net.ipv6.conf.all.accept_dad", "0"},
		{"net.ipv6.conf.default.accept_dad", "0"},
	} {
		if err := h.Sysctl(kv[0], kv[1]); err != nil {
			l.t.Logf("netns: %v", err)
		}
	}
	return h
}

// Name is the short name the test gave the host.
func (h *Host) Name() string { return h.name }

// Namespace is the namespace's name, for `ip netns exec`.
func (h *Host) Namespace() string { return h.ns }

// Iface is one end of a link, inside a host.
type Iface struct {
	Host *Host
	Name string // the interface name inside the host
	Peer string // the bridge port's name in the switch namespace
}

// Link connects the host to the bridge with a veth pair, names the host's
// end ifname, adds the addresses (CIDR notation, IPv4 or IPv6) and brings
// both ends up.
func (h *Host) Link(b *Bridge, ifname string, cidrs ...string) *Iface {
	l := h.lab
	l.t.Helper()
	port := h.veth("p", ifname)
	l.must(l.ipn(l.sw, "link", "set", port, "master", b.name, "up"))
	for _, c := range cidrs {
		l.must(l.ipn(h.ns, "addr", "add", c, "dev", ifname))
	}
	l.must(l.ipn(h.ns, "link", "set", ifname, "up"))
	l.mu.Lock()
	b.ports = append(b.ports, port)
	taps := append([]string(nil), b.taps...)
	l.mu.Unlock()
	for i, tap := range taps {
		l.must(l.mirror(port, tap, i == 0))
	}
	return &Iface{Host: h, Name: ifname, Peer: port}
}

// Tap connects the host to the bridge as a passive listener, as a switch's
// mirror port: a veth whose host end, named ifname, receives a copy of
// every frame any of the bridge's links (those made before and after)
// sends into the bridge, once, and is not itself a port of the bridge, so
// nothing the host sends on it reaches anybody. The host end is up, in
// promiscuous mode, without ARP or IPv6: it stays silent.
func (h *Host) Tap(b *Bridge, ifname string) *Iface {
	l := h.lab
	l.t.Helper()
	tap := h.veth("t", ifname)
	if err := h.Sysctl("net.ipv6.conf."+ifname+".disable_ipv6", "1"); err != nil {
		l.t.Fatalf("netns: %v", err)
	}
	l.must(l.ipn(h.ns, "link", "set", ifname, "arp", "off", "promisc", "on", "up"))
	l.must(l.ipn(l.sw, "link", "set", tap, "up"))
	// Under lab.mu, so that a Link made meanwhile is mirrored exactly
	// once: here, or by Link, which reads the taps after adding its port.
	l.mu.Lock()
	defer l.mu.Unlock()
	first := len(b.taps) == 0
	b.taps = append(b.taps, tap)
	for _, port := range b.ports {
		l.must(l.mirror(port, tap, first))
	}
	return &Iface{Host: h, Name: ifname, Peer: tap}
}

// veth makes a veth pair between the switch and the host, the host's end
// named ifname (down), and returns the switch's end's name: the lab's
// prefix, kind and a number.
func (h *Host) veth(kind, ifname string) string {
	l := h.lab
	l.t.Helper()
	l.mu.Lock()
	l.nveth++
	n := l.nveth
	l.mu.Unlock()
	sw := fmt.Sprintf("%s%s%d", l.prefix, kind, n)
	tmp := fmt.Sprintf("%sh%d", l.prefix, n)
	l.must(l.ipn(l.sw, "link", "add", sw, "type", "veth", "peer", "name", tmp, "netns", h.ns))
	l.must(l.ipn(h.ns, "link", "set", tmp, "name", ifname))
	return sw
}

// mirror copies every frame entering the switch from port to tap (tc
// mirred at the port's ingress; "continue", so the port's other taps see
// it too, and the bridge still forwards it). first: the port's first tap,
// which adds its ingress qdisc.
func (l *Lab) mirror(port, tap string, first bool) error {
	tc := func(args ...string) error {
		out, err := exec.Command("ip", append([]string{"netns", "exec", l.sw, "tc"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tc %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	if first {
		if err := tc("qdisc", "add", "dev", port, "ingress"); err != nil {
			return err
		}
	}
	return tc("filter", "add", "dev", port, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0",
		"action", "mirred", "egress", "mirror", "dev", tap, "continue")
}

// Down takes the link down at the bridge port, as a cable pulled at the
// switch: the host still sees its interface up but nothing passes.
func (i *Iface) Down() error { return i.Host.lab.ipn(i.Host.lab.sw, "link", "set", i.Peer, "down") }

// Up restores a link taken down with Down.
func (i *Iface) Up() error { return i.Host.lab.ipn(i.Host.lab.sw, "link", "set", i.Peer, "up") }

// MAC returns the hardware address of the host's end of the link.
func (i *Iface) MAC() (string, error) {
	out, err := i.Host.Run("cat", "/sys/class/net/"+i.Name+"/address")
	return strings.TrimSpace(out), err
}

// Sysctl sets a sysctl inside the host's namespace (per-namespace keys only).
func (h *Host) Sysctl(key, value string) error {
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	_, err := h.Run("sh", "-c", "echo "+value+" > "+path)
	if err != nil {
		return fmt.Errorf("netns: sysctl %s=%s in %s: %w", key, value, h.name, err)
	}
	return nil
}

// Run runs a command inside the host and returns its combined output.
func (h *Host) Run(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns: %s in %s: %w: %s", strings.Join(args, " "), h.name, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustRun is Run that fails the test on error.
func (h *Host) MustRun(args ...string) string {
	h.lab.t.Helper()
	out, err := h.Run(args...)
	if err != nil {
		h.lab.t.Fatalf("%v", err)
	}
	return out
}

// Proc is a background process started in a host.
type Proc struct {
	Cmd *exec.Cmd
	out *syncBuffer
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Signal sends sig to the process group (the process and its children).
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Start starts a command in the host in a process group of its own. It is
// killed with its children (SIGKILL to the group) when the lab closes.
func (h *Host) Start(args ...string) *Proc {
	h.lab.t.Helper()
	buf := &syncBuffer{}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...)
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !h.lab.Keep {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		h.lab.t.Fatalf("netns: start %s in %s: %v", strings.Join(args, " "), h.name, err)
	}
	h.lab.mu.Lock()
	h.lab.procs = append(h.lab.procs, cmd)
	h.lab.mu.Unlock()
	return &Proc{Cmd: cmd, out: buf}
}

// Close kills every process the lab started and deletes its namespaces,
// which removes their interfaces and the bridges. It is safe to call twice.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs, hosts := l.procs, l.hosts
	l.mu.Unlock()
	for _, c := range procs {
		if c.Process == nil {
			continue
		}
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			l.t.Logf("netns: process %d did not exit after SIGKILL", c.Process.Pid)
		}
	}
	// Processes entered with `ip netns exec` hold nothing once killed, but a
	// process started by a test some other way might: kill what is left.
	for _, h := range hosts {
		if err := removeNS(h.ns); err != nil {
			l.t.Logf("netns: cleanup: %v", err)
		}
	}
	if err := removeNS(l.sw); err != nil {
		l.t.Logf("netns: cleanup: %v", err)
	}
}

// Remove deletes every namespace whose name starts with prefix+"-", after
// killing the processes inside: the cleanup of a lab whose program is gone.
// It returns how many namespaces it removed.
func Remove(prefix string) int {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			if removeNS(f[0]) == nil {
				n++
			}
		}
	}
	return n
}

func removeNS(ns string) error {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, pid := range strings.Fields(string(out)) {
			_ = exec.Command("kill", "-9", pid).Run()
		}
	}
	out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (l *Lab) ipn(ns string, args ...string) error {
	return l.ip(append([]string{"-n", ns}, args...)...)
}

func (l *Lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("netns: %v", err)
	}
}

// shortName keeps interface names within the kernel's 15 bytes.
func shortName(name string) string {
	if len(name) > 15 {
		name = name[:15]
	}
	return name
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
