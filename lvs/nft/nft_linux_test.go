//go:build linux

package nft_test

import (
	"encoding/json"
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
	slots := mapNamed(t, h, "slots_src_61_32_s")
	h.MustRun("nft", "flush", "map", "ip", "vigil", slots)
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if n := dp.KernelOps() - before; n != 1 {
		t.Errorf("restoring the flushed map took %d kernel operations, want 1", n)
	}
	out := h.MustRun("nft", "list", "map", "ip", "vigil", slots)
	if got := strings.Count(out, " . 8080"); got != 61 {
		t.Errorf("%s has %d elements after Apply, want 61:\n%s", slots, got, out)
	}
}

// TestConvergesFromAnotherLayout: vigil's table holds what an older vigil
// (a chain and a backends map per service, a weights map) or an admin left
// there, with names that clash with the current layout's. Apply must
// replace all of it, in one batch, with the current layout.
func TestConvergesFromAnotherLayout(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	script := `table ip vigil {
	map services { type inet_proto . ipv4_addr . inet_service : verdict; elements = { tcp . 10.0.0.1 . 80 : goto svc_1 } }
	map weights { type mark . ipv4_addr . inet_service : mark; elements = { 0x1 . 10.0.1.1 . 8080 : 0x1 } }
	map backends_1 { type mark : ipv4_addr . inet_service; elements = { 0x0 : 10.0.1.1 . 8080 } }
	map pickup { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; elements = { tcp . 10.0.1.1 . 8080 : 10.0.0.1 . 80 } }
	chain prerouting { type nat hook prerouting priority dstnat; meta l4proto . ip daddr . th dport vmap @services; }
	chain svc_1 { meta l4proto tcp dnat ip to meta mark map @backends_1; }
	chain postrouting { type nat hook postrouting priority srcnat; meta l4proto tcp snat ip to meta l4proto . ip saddr . th sport map @pickup; }
	chain extra { counter; }
}
`
	if out, err := h.Run("sh", "-c", "nft -f - <<'EOF'\n"+script+"EOF"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dp := openDP(t, h, nft.Options{Table: "vigil"})
	st := lvstest.States()[2].State // web and dns, 10.0.0.1:80 among them
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	if got, err := dp.Read(t.Context()); err != nil || !got.Equal(st) {
		t.Fatalf("Read after Apply: %v\n%s", err, got.Canonical())
	}
	out := h.MustRun("nft", "list", "table", "ip", "vigil")
	for _, old := range []string{"svc_1", "backends_1", "weights", "extra"} {
		if strings.Contains(out, old) {
			t.Errorf("%s left in the table:\n%s", old, out)
		}
	}
	before := dp.KernelOps()
	if err := dp.Apply(t.Context(), st); err != nil || dp.KernelOps() != before {
		t.Errorf("second Apply: %v, %d kernel operations", err, dp.KernelOps()-before)
	}
}

// mapNamed returns the name of the first map of table ip vigil whose name
// starts with prefix.
func mapNamed(t *testing.T, h *netns.Host, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(h.MustRun("nft", "list", "table", "ip", "vigil"), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "map "+prefix); ok {
			return prefix + strings.TrimSuffix(name, " {")
		}
	}
	t.Fatalf("no map %s* in table ip vigil", prefix)
	return ""
}

// TestMapCapacity: maps are created with a capacity (nft's "size"), and
// one that outgrows it, or shrinks to an eighth of it, is recreated in the
// same batch, elements and all: every map's size stays a power of two
// between its element count and 8 times it (or 64).
func TestMapCapacity(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	dp := openDP(t, h, nft.Options{Table: "vigil"})
	for _, tc := range []struct {
		services int
		size     int // of the services map
	}{
		{10, 64},
		{200, 512}, // grown
		{210, 512}, // fits
		{5, 64},    // shrunk
	} {
		st := lvstest.Many(tc.services, 10)
		if err := dp.Apply(t.Context(), st); err != nil {
			t.Fatal(err)
		}
		if got, err := dp.Read(t.Context()); err != nil || !got.Equal(st) {
			t.Fatalf("%d services: Read differs: %v", tc.services, err)
		}
		var doc struct {
			Nftables []struct {
				Map *struct {
					Name string            `json:"name"`
					Size int               `json:"size"`
					Elem []json.RawMessage `json:"elem"`
				} `json:"map"`
			} `json:"nftables"`
		}
		if err := json.Unmarshal([]byte(h.MustRun("nft", "-j", "list", "table", "ip", "vigil")), &doc); err != nil {
			t.Fatal(err)
		}
		for _, o := range doc.Nftables {
			if m := o.Map; m != nil {
				n := len(m.Elem)
				if m.Size&(m.Size-1) != 0 || m.Size < n || m.Size > max(64, 8*n) {
					t.Errorf("%d services: map %s has size %d for %d elements", tc.services, m.Name, m.Size, n)
				}
				if m.Name == "services" && m.Size != tc.size {
					t.Errorf("%d services: the services map has size %d, want %d", tc.services, m.Size, tc.size)
				}
			}
		}
	}
}
