package nft

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"vigil/lvs"
)

func reals(n int, w func(i int) int) []lvs.Real {
	var rs []lvs.Real
	for i := range n {
		rs = append(rs, lvs.Real{Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i)}), Port: 8080, Weight: w(i), Method: lvs.NAT})
	}
	return rs
}

func counts(t []int) map[int]int {
	c := map[int]int{}
	for _, i := range t {
		c[i]++
	}
	return c
}

func TestMaglevProportional(t *testing.T) {
	for _, m := range TableSizes[:3] {
		rs := reals(5, func(i int) int { return []int{1, 1, 2, 4, 0}[i] })
		c := counts(Maglev(rs, m))
		if c[4] != 0 || c[-1] != 0 {
			t.Fatalf("M=%d: weight-0 real got slots or slots left empty: %v", m, c)
		}
		for i, w := range []int{1, 1, 2, 4} {
			want := float64(m) * float64(w) / 8
			if d := float64(c[i]) - want; d > 1 || d < -1 {
				t.Errorf("M=%d: real %d (weight %d) got %d slots, want %.1f±1", m, i, w, c[i], want)
			}
		}
	}
	if c := counts(Maglev(reals(3, func(int) int { return 0 }), 61)); c[-1] != 61 {
		t.Errorf("all weights 0: %v, want every slot empty", c)
	}
}

// TestMaglevDisruption: removing one of ten reals, or changing its weight,
// moves only a small share of the other reals' slots (the connections that
// survive such a change are the point of Maglev).
func TestMaglevDisruption(t *testing.T) {
	const m = 251
	base := reals(10, func(int) int { return 1 })
	before := Maglev(base, m)
	moved := func(after []int, idx func(int) lvs.Real) int {
		n := 0
		for s := range before {
			if base[before[s]].AddrPort() == base[3].AddrPort() {
				continue // slots of the changed real may move
			}
			if after[s] < 0 || idx(after[s]).AddrPort() != base[before[s]].AddrPort() {
				n++
			}
		}
		return n
	}
	removed := append(append([]lvs.Real{}, base[:3]...), base[4:]...)
	after := Maglev(removed, m)
	n := moved(after, func(i int) lvs.Real { return removed[i] })
	t.Logf("remove 1 of 10: %d of %d other slots moved", n, m)
	if n > m/10 {
		t.Errorf("removing one real moved %d slots of the others, want <= %d", n, m/10)
	}
	reweighted := append([]lvs.Real{}, base...)
	reweighted[3].Weight = 2
	after = Maglev(reweighted, m)
	n = moved(after, func(i int) lvs.Real { return reweighted[i] })
	t.Logf("weight 1->2: %d of %d other slots moved", n, m)
	if n > m/6 {
		t.Errorf("reweighting one real moved %d slots of the others, want <= %d", n, m/6)
	}
}

func TestRoundRobinAlternates(t *testing.T) {
	tab := RoundRobin(reals(2, func(i int) int { return []int{1, 2}[i] }), 61)
	c := counts(tab)
	if c[0] != 20 && c[0] != 21 || c[0]+c[1] != 61 {
		t.Errorf("wrr 1:2 over 61 slots: %v", c)
	}
	for i := 1; i < 6; i++ {
		if tab[i] == 0 && tab[i-1] == 0 {
			t.Errorf("weight-1 real took two slots in a row: %v", tab[:6])
		}
	}
}

// TestJHashGolden pins JHash. The values were printed by this function,
// which TestTrafficHashPlacement checks against the kernel (every real server
// it predicted for 96 connections was the one the kernel picked); the
// pinning catches any later change to it.
func TestJHashGolden(t *testing.T) {
	for _, tc := range []struct {
		key  []byte
		seed uint32
		want uint32
	}{
		{nil, 0, 0xdeadbeef},
		{[]byte{10, 91, 0, 100}, 0x5eed, 0x5ef81b15},                   // ip saddr 10.91.0.100
		{[]byte{10, 91, 0, 100, 0xa4, 0x10, 0, 0}, 0x5eed, 0x4e71cc01}, // . th sport 42000
		{[]byte("0123456789abcdef"), 7, 0x6f2165f1},                    // more than one 12-byte block
	} {
		if got := JHash(tc.key, tc.seed); got != tc.want {
			t.Errorf("JHash(%x, %#x) = %#x, want %#x", tc.key, tc.seed, got, tc.want)
		}
	}
	// Different lengths and tails must all mix in every byte.
	seen := map[uint32]bool{}
	for n := 1; n <= 13; n++ {
		k := make([]byte, n)
		for i := range k {
			k[i] = byte(i + 1)
		}
		h := JHash(k, 1)
		k[n-1] ^= 0x80
		if JHash(k, 1) == h {
			t.Errorf("length %d: last byte does not change the hash", n)
		}
		seen[h] = true
	}
	if len(seen) != 13 {
		t.Errorf("collisions across lengths: %d distinct of 13", len(seen))
	}
	if Scale(0xffffffff, 61) != 60 || Scale(0, 61) != 0 || Scale(1<<31, 2) != 1 {
		t.Errorf("Scale is not reciprocal_scale")
	}
}

func TestValidate(t *testing.T) {
	o := Options{Seed: 1}
	ok := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "mh", Reals: reals(2, func(int) int { return 1 })}
	if err := o.Validate(lvs.State{Services: []lvs.Service{ok}}); err != nil {
		t.Fatalf("valid state: %v", err)
	}
	dr := Options{Seed: 1, DRInterface: "eth0"}
	drSvc := ok
	drSvc.Reals = []lvs.Real{{Addr: netip.MustParseAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.DR}}
	if err := dr.Validate(lvs.State{Services: []lvs.Service{drSvc}}); err != nil {
		t.Errorf("DR mh: %v", err)
	}
	// IPv6 and fwmark services, NAT and DR.
	v6 := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr("fd00::1"), Port: 80, Scheduler: "mh",
		Reals: []lvs.Real{{Addr: netip.MustParseAddr("fd00:1::1"), Port: 8080, Weight: 1, Method: lvs.NAT}}}
	v6dr := v6
	v6dr.Addr = netip.MustParseAddr("fd00::2")
	v6dr.Reals = []lvs.Real{{Addr: netip.MustParseAddr("fd00:1::1"), Port: 80, Weight: 1, Method: lvs.DR}}
	fwm := lvs.Service{FWMark: 7, Scheduler: "wrr", Reals: []lvs.Real{{Addr: netip.MustParseAddr("10.0.1.1"), Weight: 1, Method: lvs.NAT}}}
	fwm6 := lvs.Service{FWMark: 7, Addr: netip.IPv6Unspecified(), Scheduler: "sh",
		Reals: []lvs.Real{{Addr: netip.MustParseAddr("fd00:1::1"), Port: 443, Weight: 1, Method: lvs.DR}}}
	if err := dr.Validate(lvs.State{Services: []lvs.Service{v6, v6dr, fwm, fwm6}}); err != nil {
		t.Errorf("IPv6 and fwmark services: %v", err)
	}
	for _, bad := range []struct {
		f    func(*lvs.Service)
		want string
	}{
		{func(s *lvs.Service) { s.Scheduler = "rr" }, "would split a TCP handshake"},
		{func(s *lvs.Service) { s.Reals[0].Port = 8080 }, "cannot change the port"},
	} {
		s := drSvc
		s.Reals = append([]lvs.Real{}, drSvc.Reals...)
		bad.f(&s)
		if err := dr.Validate(lvs.State{Services: []lvs.Service{s}}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("DR %s: %v, want %q", s.String(), err, bad.want)
		}
	}
	if err := (Options{}).Validate(lvs.State{}); !errors.Is(err, ErrSeed) {
		t.Errorf("seed 0: %v, want ErrSeed", err)
	}
	mod := func(f func(*lvs.Service)) lvs.Service {
		s := ok
		s.Reals = append([]lvs.Real{}, ok.Reals...)
		f(&s)
		return s
	}
	for _, tc := range []struct {
		svc  lvs.Service
		want string
	}{
		{mod(func(s *lvs.Service) { s.Scheduler = "wlc" }), "scheduler wlc has no nftables equivalent"},
		{mod(func(s *lvs.Service) { s.Scheduler = "lc" }), "scheduler lc has no nftables equivalent"},
		{mod(func(s *lvs.Service) { s.Reals[0].Method, s.Reals[0].Port = lvs.TUN, 80 }), "forwarding method tun cannot be expressed"},
		{mod(func(s *lvs.Service) {
			s.Reals[0].Method, s.Reals[1].Method, s.Reals[0].Port, s.Reals[1].Port = lvs.DR, lvs.DR, 80, 80
		}), "DR needs the nftables option DRInterface"},
		{mod(func(s *lvs.Service) { s.Reals[0].Method, s.Reals[0].Port = lvs.DR, 80 }), "NAT and DR mixed"},
		{mod(func(s *lvs.Service) { s.Reals[1].Addr = netip.MustParseAddr("fd00::2") }), "not the service's address family"},
		{lvs.Service{FWMark: 1, Addr: netip.IPv4Unspecified(), Scheduler: "mh", Reals: []lvs.Real{
			{Addr: netip.MustParseAddr("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.NAT},
			{Addr: netip.MustParseAddr("10.0.1.2"), Weight: 1, Method: lvs.NAT}}}, "with a port and without one"},
		{mod(func(s *lvs.Service) {
			s.Reals = nil
			for i := range 2731 {
				s.Reals = append(s.Reals, lvs.Real{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80, Weight: 1, Method: lvs.NAT})
			}
		}), "more than the largest table"},
	} {
		err := o.Validate(lvs.State{Services: []lvs.Service{tc.svc}})
		var se *lvs.ServiceError
		if !errors.Is(err, lvs.ErrUnsupported) || !errors.As(err, &se) || se.Service != tc.svc.Key() ||
			!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.svc.Key().String()) {
			t.Errorf("Validate(%s) = %v, want ErrUnsupported naming the service and %q", tc.svc.String(), err, tc.want)
		}
	}
}

func TestTagAndNames(t *testing.T) {
	svc := lvs.State{Services: []lvs.Service{{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"),
		Port: 80, Scheduler: "sh", Flags: lvs.FlagSHPort, PersistenceTimeout: 300, PersistenceNetmask: 24,
		Reals: reals(2, func(int) int { return 1 })}}}.Canonical().Services[0]
	tag := svcTag(svc)
	if len(tag) > 128 {
		t.Errorf("tag longer than a comment should be: %q", tag)
	}
	a, ok := parseTag(tag)
	if !ok || a.sched != "sh" || a.flags != lvs.FlagSHPort|lvs.FlagPersistent || a.timeout != 300 || a.netmask != 24 {
		t.Errorf("parseTag(%q) = %+v %v", tag, a, ok)
	}
	for _, c := range []class{
		{Kind: kindSrc, M: 61, Mask: 32},
		{Kind: kindSrcPort, M: 16381, Mask: 128, Mark: true, Shard: 63},
		{Kind: kindNumgen, M: 251, Mask: 0, Mark: true, KeepPort: true, Shard: 7},
	} {
		if got, ok := parseClass(c.name()); !ok || got != c {
			t.Errorf("class round trip %+v: %+v %v", c, got, ok)
		}
		if !isClassChain(classChain(c.name())) || classOfSet(classSet(c.name())) != c {
			t.Errorf("class %s: chain or map name not recognized", c.name())
		}
	}
	for _, bad := range []string{"src_62_32_s0", "src_61_129_s0", "x_61_32_s0", "src_61_s0", "src_61_32_fwm_x_s0", "src_061_32_s0",
		"svc_1", "src_61_32", "src_61_32_s64", "src_61_32_s07", "src_61_32_keepport_fwm_s1"} {
		if _, ok := parseClass(bad); ok {
			t.Errorf("parseClass(%q) accepted", bad)
		}
	}
	for _, k := range []lvs.ServiceKey{{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, {FWMark: 3, Addr: netip.IPv6Unspecified()}} {
		if mark, ok := isRealsSet(realsSet(k)); !ok || mark != (k.FWMark != 0) {
			t.Errorf("reals map %q of %s not recognized", realsSet(k), k)
		}
	}
	if _, ok := isRealsSet("reals"); ok {
		t.Errorf("isRealsSet(reals) accepted")
	}
	for _, n := range []int{0, 1, 42, 43, 100, 10000, 610000} {
		c := capacity(n)
		if !fits(c, n) || int(c) < n+n/2 || c&(c-1) != 0 {
			t.Errorf("capacity(%d) = %d", n, c)
		}
	}
	if fits(64, 65) || !fits(64, 0) || fits(1024, 127) || !fits(1024, 128) {
		t.Errorf("fits: grow beyond the capacity, shrink below an eighth")
	}
}

// TestEncodings: every key and value the datapath writes decodes back, for
// both address families and for fwmark services.
func TestEncodings(t *testing.T) {
	for _, k := range []lvs.ServiceKey{
		{Proto: lvs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
		{Proto: lvs.UDP, Addr: netip.MustParseAddr("fd00::1"), Port: 53},
		{FWMark: 7, Addr: netip.IPv4Unspecified()},
		{FWMark: 0xfffffff0, Addr: netip.IPv6Unspecified()},
	} {
		alen := k.Addr.BitLen() / 8
		rs := netip.AddrPortFrom(netip.MustParseAddr("10.0.1.1"), 8080)
		if k.Addr.Is6() {
			rs = netip.AddrPortFrom(netip.MustParseAddr("fd00:1::1"), 8080)
		}
		if got, ok := decodeSvcKey(appendSvcKey(nil, k), alen); !ok || got != k {
			t.Errorf("service key %s: %v %v", k, got, ok)
		}
		if got, slot, ok := decodeSlotKey(appendSlotKey(nil, k, 60), alen); !ok || got != k || slot != 60 {
			t.Errorf("slot key %s: %v %d %v", k, got, slot, ok)
		}
		if got, ap, ok := decodeRealKey(appendRealKey(nil, k, rs), alen); !ok || got != k || ap != rs {
			t.Errorf("real key %s: %v %v %v", k, got, ap, ok)
		}
		if k.FWMark == 0 {
			pk := pickupKey{k.Proto, rs}
			if got, ok := decodePickupKey(appendPickupKey(nil, pk), alen); !ok || got != pk {
				t.Errorf("pickup key %v: %v %v", pk, got, ok)
			}
		}
	}
}
