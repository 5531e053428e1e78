package vip

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := netip.MustParsePrefix
	ours := func(o Owned) bool {
		return o.Iface == "eth0" && (o.Addr == netip.MustParseAddr("10.0.0.200") || o.Addr == netip.MustParseAddr("10.0.0.201") || o.Addr == netip.MustParseAddr("fd00::200"))
	}
	hold := func(a string, lease time.Duration) Hold {
		return Hold{Addr: p(a), Iface: "eth0", Label: "", Until: now.Add(lease)}
	}
	have := func(a string, label string) Address {
		return Address{Iface: "eth0", Prefix: p(a), Label: label, Broadcast: DefaultBroadcast(p(a)), ValidLft: 2 * time.Second}
	}
	for _, tc := range []struct {
		name string
		have []Address
		held []Hold
		want string
	}{
		{"nothing", nil, nil, ""},
		{"add a hold with lease plus slack", nil, []Hold{hold("10.0.0.200/24", 3*time.Second)},
			"add eth0 10.0.0.200/24 valid 4s"},
		{"refresh a hold that is there", []Address{have("10.0.0.200/24", "")}, []Hold{hold("10.0.0.200/24", 3*time.Second)},
			"refresh eth0 10.0.0.200/24 valid 4s"},
		{"delete ours not held, keep foreign", []Address{have("10.0.0.11/24", ""), have("10.0.0.200/24", ""), have("fd00::200/64", "")}, nil,
			"delete eth0 10.0.0.200/24|delete eth0 fd00::200/64"},
		{"prefix length changed: delete and add", []Address{have("10.0.0.200/32", "")}, []Hold{hold("10.0.0.200/24", time.Second)},
			"delete eth0 10.0.0.200/32|add eth0 10.0.0.200/24 valid 2s"},
		{"label changed: delete and add", []Address{have("10.0.0.200/24", "eth0:old")}, []Hold{{Addr: p("10.0.0.200/24"), Iface: "eth0", Label: "eth0:vip", Until: now.Add(time.Second)}},
			"delete eth0 10.0.0.200/24|add eth0 10.0.0.200/24 label eth0:vip valid 2s"},
		{"two copies of a held address: keep one", []Address{have("10.0.0.200/24", ""), have("10.0.0.200/32", "")}, []Hold{hold("10.0.0.200/24", time.Second)},
			"delete eth0 10.0.0.200/32|refresh eth0 10.0.0.200/24 valid 2s"},
		{"a held address not in ours is still added", nil, []Hold{hold("10.0.0.250/24", time.Second)},
			"add eth0 10.0.0.250/24 valid 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, op := range Plan(now, time.Second, tc.have, tc.held, ours) {
				got = append(got, op.String())
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("plan\n%s\nwant\n%s", g, tc.want)
			}
		})
	}
}

func TestDefaultBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.200/24": "10.0.0.255",
		"10.0.0.200/16": "10.0.255.255",
		"10.0.0.200/30": "10.0.0.203",
		"10.0.0.200/31": "invalid IP",
		"10.0.0.200/32": "invalid IP",
		"fd00::1/64":    "invalid IP",
	} {
		if got := DefaultBroadcast(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("DefaultBroadcast(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestKernelSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want uint32
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {1 << 62, 0xFFFFFFFE}} {
		if got := KernelSeconds(tc.in); got != tc.want {
			t.Errorf("KernelSeconds(%s) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestAddressValidate(t *testing.T) {
	ok := Address{Iface: "eth0", Prefix: netip.MustParsePrefix("10.0.0.1/24"), Label: "eth0:vip", ValidLft: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]Address{
		"no interface":        {Prefix: ok.Prefix},
		"no prefix":           {Iface: "eth0"},
		"mapped":              {Iface: "eth0", Prefix: netip.MustParsePrefix("::ffff:10.0.0.1/120")},
		"v6 label":            {Iface: "eth0", Prefix: netip.MustParsePrefix("fd00::1/64"), Label: "eth0:x"},
		"long label":          {Iface: "eth0", Prefix: ok.Prefix, Label: "eth0:0123456789a"},
		"v6 broadcast":        {Iface: "eth0", Prefix: netip.MustParsePrefix("fd00::1/64"), Broadcast: netip.MustParseAddr("fd00::ff")},
		"negative lifetime":   {Iface: "eth0", Prefix: ok.Prefix, ValidLft: -time.Second},
		"preferred > valid":   {Iface: "eth0", Prefix: ok.Prefix, ValidLft: time.Second, PreferredLft: 2 * time.Second},
		"preferred, no valid": {Iface: "eth0", Prefix: ok.Prefix, PreferredLft: time.Second},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: %v validated", name, a)
		}
	}
}

// BenchmarkPlan: a pass over an interface with 256 held VIPs and 256
// other addresses (target: well under a millisecond per pass, so a 1 s
// sweep costs nothing).
func BenchmarkPlan(b *testing.B) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var have []Address
	var held []Hold
	for i := 0; i < 256; i++ {
		v := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 24)
		o := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i)}), 24)
		have = append(have, Address{Iface: "eth0", Prefix: v, Broadcast: DefaultBroadcast(v)}, Address{Iface: "eth0", Prefix: o, Broadcast: DefaultBroadcast(o)})
		held = append(held, Hold{Addr: v, Iface: "eth0", Until: now.Add(3 * time.Second)})
	}
	ours := func(o Owned) bool { return o.Addr.As4()[2] == 1 }
	b.ReportAllocs()
	for b.Loop() {
		if len(Plan(now, time.Second, have, held, ours)) != 256 {
			b.Fatal("wrong plan")
		}
	}
}
