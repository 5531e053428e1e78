//go:build linux

package ipvs_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vigil/lvs"
	"vigil/lvs/ipvs"
	"vigil/lvs/lvstest"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, netlink)")
	}
}

var requireIPVS = flag.Bool("require-ipvs", false, "fail instead of skipping when the kernel has no IPVS (the VM harness sets it)")

func needIPVS(t *testing.T) {
	t.Helper()
	needRoot(t)
	if err := ipvs.CheckKernel(""); err != nil {
		if *requireIPVS {
			t.Fatalf("-require-ipvs: %v", err)
		}
		t.Skipf("needs IPVS (run it in the VM: test/ipvsvm/run-lvs.sh): %v", err)
	}
}

// TestNoIPVS: on a kernel without IPVS, New fails with ErrNoIPVS and says
// what to do, instead of moby/ipvs's silent no-ops.
func TestNoIPVS(t *testing.T) {
	needRoot(t)
	if ipvs.CheckKernel("") == nil {
		t.Skip("this kernel has IPVS; the no-IPVS path needs a kernel without it")
	}
	dp, err := ipvs.New(ipvs.Options{})
	if err == nil {
		dp.Close()
		t.Fatal("New succeeded on a kernel without IPVS")
	}
	if !errors.Is(err, lvs.ErrNoIPVS) || !strings.Contains(err.Error(), "datapath nftables") {
		t.Errorf("New = %v, want lvs.ErrNoIPVS suggesting datapath nftables", err)
	}
	t.Logf("as expected: %v", err)
}

// newNetNS returns the path of a fresh network namespace held by a locked
// thread until the test ends (IPVS tables are per namespace, so each test
// starts empty and never touches the host's table).
func newNetNS(t *testing.T) string {
	t.Helper()
	path, done := make(chan string), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err == nil {
			// Loopback up creates the local routing table; without it IPVS
			// rejects every destination (inet_addr_type is not unicast).
			var lo netlink.Link
			if lo, err = netlink.LinkByName("lo"); err == nil {
				err = netlink.LinkSetUp(lo)
			}
		}
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		path <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-done
		// Back home before unlocking; if that fails the thread stays
		// locked and is discarded.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	select {
	case p := <-path:
		t.Cleanup(func() { close(done) })
		return p
	case err := <-errc:
		t.Fatalf("new netns: %v", err)
	}
	return ""
}

func TestConformanceIPVS(t *testing.T) {
	needIPVS(t)
	lvstest.RunConformance(t, lvstest.Harness{
		New: func(t *testing.T) lvs.Datapath {
			dp, err := ipvs.New(ipvs.Options{NetNSPath: newNetNS(t), Sysctls: true})
			if err != nil {
				t.Fatal(err)
			}
			return dp
		},
		Caps: ipvsCaps(),
	})
}

// TestForeignServices: services another program put into IPVS survive
// every Apply, also after a restart that forgot what vigil created.
func TestForeignServices(t *testing.T) {
	needIPVS(t)
	ns := newNetNS(t)
	h, err := mobyipvs.New(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	foreign := &mobyipvs.Service{Address: net.ParseIP("192.168.9.9"), Protocol: unix.IPPROTO_TCP, Port: 22,
		SchedName: "rr", AddressFamily: unix.AF_INET, Netmask: 0xffffffff}
	if err := h.NewService(foreign); err != nil {
		t.Fatal(err)
	}
	dp, err := ipvs.New(ipvs.Options{NetNSPath: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range lvstest.States() {
		if err := dp.Apply(t.Context(), ns.State); err != nil {
			t.Fatalf("%s: %v", ns.Name, err)
		}
		if !h.IsServicePresent(foreign) {
			t.Fatalf("%s: the foreign service is gone", ns.Name)
		}
	}
	dp.Close()
	dp2, err := ipvs.New(ipvs.Options{NetNSPath: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer dp2.Close()
	if err := dp2.Apply(t.Context(), lvs.State{}); err != nil {
		t.Fatal(err)
	}
	if !h.IsServicePresent(foreign) {
		t.Fatal("a restarted datapath deleted the foreign service")
	}
}

// TestFlagsReadBack: the kernel adds IP_VS_SVC_F_HASHED; Read masks it.
func TestFlagsReadBack(t *testing.T) {
	needIPVS(t)
	dp, err := ipvs.New(ipvs.Options{NetNSPath: newNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	want := lvs.State{Services: []lvs.Service{{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80,
		Scheduler: "wrr", PersistenceTimeout: 300, PersistenceNetmask: 24}}}
	if err := dp.Apply(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := dp.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Errorf("read back:\n%s want:\n%s", got, want.Canonical())
	}
}

// TestTrafficNAT sends HTTP requests through a NAT VIP in the VM's lb
// namespace to its two busybox httpd backends (test/ipvsvm's /init builds
// them): rr alternates, wrr with persistence sticks to one, mh is stable.
func TestTrafficNAT(t *testing.T) {
	needIPVS(t)
	const lb = "/run/netns/lb"
	if _, err := os.Stat(lb); err != nil {
		if *requireIPVS {
			t.Fatalf("-require-ipvs: no %s: %v", lb, err)
		}
		t.Skip("needs IPVS and the VM's lb/be namespaces (test/ipvsvm)")
	}
	dp, err := ipvs.New(ipvs.Options{NetNSPath: lb, Sysctls: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	t.Cleanup(func() {
		if err := dp.Apply(context.Background(), lvs.State{}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	reals := []lvs.Real{
		{Addr: netip.MustParseAddr("192.168.1.2"), Port: 8080, Weight: 1, Method: lvs.NAT},
		{Addr: netip.MustParseAddr("192.168.1.3"), Port: 8080, Weight: 1, Method: lvs.NAT},
	}
	get := func() string {
		var body string
		err := inNS(lb, func() error {
			c, err := net.DialTimeout("tcp", "10.0.0.1:80", 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "backend-") {
					body = l
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatalf("GET through the VIP: %v", err)
		}
		return body
	}
	for _, tc := range []struct {
		name  string
		svc   lvs.Service
		check func([]string) bool
	}{
		{"rr alternates", lvs.Service{Scheduler: "rr"}, func(s []string) bool { return s[0] != s[1] && s[1] != s[2] && s[2] != s[3] }},
		{"wrr + persistence sticks", lvs.Service{Scheduler: "wrr", PersistenceTimeout: 300}, func(s []string) bool { return s[0] == s[1] && s[1] == s[2] && s[2] == s[3] }},
		{"mh is stable per client", lvs.Service{Scheduler: "mh"}, func(s []string) bool { return s[0] == s[1] && s[1] == s[2] && s[2] == s[3] }},
	} {
		svc := tc.svc
		svc.Proto, svc.Addr, svc.Port, svc.Reals = lvs.TCP, netip.MustParseAddr("10.0.0.1"), 80, reals
		// A fresh service per case, so persistence templates do not carry over.
		if err := dp.Apply(t.Context(), lvs.State{}); err != nil {
			t.Fatal(err)
		}
		if err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 4 {
			got = append(got, get())
		}
		t.Logf("%s: %v", tc.name, got)
		if !tc.check(got) || got[0] == "" {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func inNS(path string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// ipvsCaps is lvstest.IPVSCaps without twos, which Linux has only since 6.2
// (the VM's Debian kernel is 6.1).
func ipvsCaps() lvstest.Caps {
	c := lvstest.IPVSCaps
	c.Schedulers = slices.DeleteFunc(slices.Clone(c.Schedulers), func(s string) bool { return s == "twos" })
	return c
}
