//go:build linux

package nft_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"vigil/lvs"
	"vigil/lvs/lvstest"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

const testSeed = 0x5eed

var nftCaps = lvstest.Caps{
	Schedulers:  []string{"rr", "wrr", "sh", "mh"},
	Methods:     []lvs.Method{lvs.NAT, lvs.DR},
	IPv6:        true,
	FWMark:      true,
	Persistence: true,
	Filter: func(s lvs.Service) bool {
		for _, r := range s.Reals {
			if r.Method == lvs.DR && (s.Scheduler == "rr" || s.Scheduler == "wrr") && s.PersistenceTimeout == 0 {
				return false // stateless DR would split a handshake
			}
		}
		return true
	},
}

// fakeMAC gives every real server address a MAC, for DR tables without a
// real neighbour.
func fakeMAC(a netip.Addr) (net.HardwareAddr, error) {
	b := a.AsSlice()[a.BitLen()/8-4:]
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}, nil
}

var tableSeq atomic.Uint32

// openDP returns a datapath on host h with a table of its own, deleted at
// cleanup.
func openDP(t testing.TB, h *netns.Host, opt nft.Options) *nft.Datapath {
	t.Helper()
	f, err := os.Open("/run/netns/" + h.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	opt.NetNS = int(f.Fd())
	if opt.Seed == 0 {
		opt.Seed = testSeed
	}
	if opt.Table == "" {
		opt.Table = fmt.Sprintf("vigil%d", tableSeq.Add(1))
	}
	dp, err := nft.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dp.Delete(t.Context()); err != nil {
			t.Errorf("delete table: %v", err)
		}
	})
	return dp
}

func TestConformanceNFT(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	h.Link(lab.Bridge("lan"), "eth0", "10.0.1.254/24")
	a := lvstest.States()[1].State.Services[0]
	wlc := a
	wlc.Addr, wlc.Scheduler = lvstest.MustAddr("10.0.0.99"), "wlc"
	dr := a
	dr.Addr, dr.Scheduler = lvstest.MustAddr("10.0.0.98"), "rr"
	dr.Reals = []lvs.Real{{Addr: lvstest.MustAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.DR}}
	tun := dr
	tun.Addr = lvstest.MustAddr("10.0.0.97")
	tun.Reals = []lvs.Real{{Addr: lvstest.MustAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.TUN}}
	mixed := lvs.Service{Proto: lvs.TCP, Addr: lvstest.MustAddr("fd00::1"), Port: 80, Scheduler: "mh",
		Reals: []lvs.Real{{Addr: lvstest.MustAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.NAT}}}
	fwm := lvs.Service{FWMark: 3, Scheduler: "mh", Reals: []lvs.Real{
		{Addr: lvstest.MustAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.NAT},
		{Addr: lvstest.MustAddr("10.0.1.2"), Weight: 1, Method: lvs.NAT}}}
	lvstest.RunConformance(t, lvstest.Harness{
		New: func(t *testing.T) lvs.Datapath {
			return openDP(t, h, nft.Options{DRInterface: "eth0", ResolveMAC: fakeMAC})
		},
		Caps:        nftCaps,
		Unsupported: []lvs.Service{wlc, dr, tun, mixed, fwm},
	})
}

// TestConvergesAfterForeignChange: someone flushes one of vigil's maps
// behind its back; the ruleset generation moves, so the next Apply reads the
// kernel again instead of trusting its cache, and restores the slots.
func TestConvergesAfterForeignChange(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	dp := openDP(t, h, nft.Options{Table: "vigil"})
	st := lvstest.States()[1].State
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	before := dp.KernelOps()
	if err := dp.Apply(t.Context(), st); err != nil || dp.KernelOps() != before {
		t.Fatalf("identical Apply: %v, %d ops", err, dp.KernelOps()-before)
	}
	h.MustRun("nft", "flush", "map", "ip", "vigil", "slots_src_61_32")
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if n := dp.KernelOps() - before; n != 1 {
		t.Errorf("restoring the flushed map took %d kernel operations, want 1", n)
	}
	out := h.MustRun("nft", "list", "map", "ip", "vigil", "slots_src_61_32")
	if got := strings.Count(out, " . 8080"); got != 61 {
		t.Errorf("slots_src_61_32 has %d elements after Apply, want 61:\n%s", got, out)
	}
}
