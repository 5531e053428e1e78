package arpwatch

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	vip  = netip.MustParseAddr("10.0.0.100")
)

// unhex reads field-commented hex: everything after # on a line is a
// comment, whitespace is ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		l, _, _ = strings.Cut(l, "#")
		b.WriteString(strings.Join(strings.Fields(l), ""))
	}
	out, err := hex.DecodeString(b.String())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProbeFrameGolden(t *testing.T) {
	want := unhex(t, `
		ffffffffffff 02000000000a 0806   # Ethernet: broadcast, from macA, ARP
		0001 0800 06 04 0001             # Ethernet/IPv4, request
		02000000000a 00000000            # sender macA / 0.0.0.0 (a probe)
		000000000000 0a000064            # target ? / 10.0.0.100
		000000000000000000000000000000000000 # padding to 60 bytes
	`)
	got, err := ProbeFrame(macA, vip)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("probe frame\n got %x\nwant %x", got, want)
	}
	if _, ok := ParseClaim(got); ok {
		t.Error("a probe parsed as a claim: it claims nothing")
	}
}

func TestProbeFrameInvalid(t *testing.T) {
	for _, tc := range []struct {
		mac net.HardwareAddr
		ip  string
	}{{macA[:4], "10.0.0.1"}, {macA, "2001:db8::1"}} {
		if _, err := ProbeFrame(tc.mac, netip.MustParseAddr(tc.ip)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ProbeFrame(%s, %s) = %v, want ErrInvalid", tc.mac, tc.ip, err)
		}
	}
}

func TestParseClaim(t *testing.T) {
	const eth = "ffffffffffff 02000000000b 0806 0001 0800 06 04"
	for _, tc := range []struct {
		name, frame string
		want        string // "" for no claim, else "IP MAC gratuitous"
	}{
		{"reply", eth + "0002 02000000000b 0a000064 02000000000a 0a00000b", "10.0.0.100 02:00:00:00:00:0b false"},
		{"reply to a probe", eth + "0002 02000000000b 0a000064 02000000000a 00000000", "10.0.0.100 02:00:00:00:00:0b false"},
		{"gratuitous request", eth + "0001 02000000000b 0a000064 000000000000 0a000064", "10.0.0.100 02:00:00:00:00:0b true"},
		{"gratuitous reply", eth + "0002 02000000000b 0a000064 ffffffffffff 0a000064", "10.0.0.100 02:00:00:00:00:0b true"},
		{"ordinary request", eth + "0001 02000000000b 0a00000b 000000000000 0a000064", ""},
		{"probe", eth + "0001 02000000000b 00000000 000000000000 0a000064", ""},
		{"not ARP", "ffffffffffff 02000000000b 0800 0001 0800 06 04 0002 02000000000b 0a000064 02000000000a 0a00000b", ""},
		{"not IPv4", "ffffffffffff 02000000000b 0806 0001 86dd 06 04 0002 02000000000b 0a000064 02000000000a 0a00000b", ""},
		{"short", eth + "0002 02000000000b 0a000064", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, ok := ParseClaim(unhex(t, tc.frame))
			got := ""
			if ok {
				got = obs.SenderIP.String() + " " + obs.SenderMAC.String() + " " + map[bool]string{true: "true", false: "false"}[obs.Gratuitous]
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigClaimFiltersVIPs(t *testing.T) {
	c := Config{Interface: "eth0", VIPs: []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.100"), netip.MustParseAddr("2001:db8::1")}}.withDefaults()
	if len(c.VIPs) != 1 || c.VIPs[0] != vip {
		t.Fatalf("VIPs %v, want [10.0.0.100]", c.VIPs)
	}
	garp := unhex(t, "ffffffffffff 02000000000b 0806 0001 0800 06 04 0001 02000000000b 0a000064 000000000000 0a000064")
	obs, ok := c.claim(garp)
	if !ok || obs.Iface != "eth0" || obs.At.IsZero() {
		t.Fatalf("claim = %+v, %v", obs, ok)
	}
	other := bytes.Clone(garp)
	other[14+17], other[14+27] = 0x65, 0x65 // 10.0.0.101: not ours
	if _, ok := c.claim(other); ok {
		t.Fatal("a claim on an unwatched address passed")
	}
}

func FuzzParseClaim(f *testing.F) {
	p, _ := ProbeFrame(macA, vip)
	f.Add(p)
	f.Add(unhex(f, "ffffffffffff 02000000000b 0806 0001 0800 06 04 0002 02000000000b 0a000064 02000000000a 0a00000b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		obs, ok := ParseClaim(b)
		if ok && (!obs.SenderIP.Is4() || len(obs.SenderMAC) != 6) {
			t.Fatalf("claim %+v from %x", obs, b)
		}
	})
}
