package vrrp_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/vrrp"
)

// TestTsharkDissectsOurAdverts sends our v2 and v3 adverts, IPv4 and IPv6,
// multicast and unicast, for real over a veth while tshark captures on the
// receiving host; then tshark must dissect every field as we sent it, with
// a good checksum and no expert info at all (no warning, no error, no
// malformed packet).
func TestTsharkDissectsOurAdverts(t *testing.T) {
	l := newVRRPLab(t)
	pcap := filepath.Join(t.TempDir(), "vrrp.pcapng")
	const packets = 10 // 5 instances, one advert and one release each
	// -P prints a summary line per packet while writing the file (-l: at
	// once, unbuffered): how we
	// know the capture is live and when it has everything.
	ts := l.ka.Start("tshark", "-n", "-l", "-P", "-i", "eth0", "-f", "ip proto 112 or ip6 proto 112",
		"-a", "duration:120", "-w", pcap)
	seen := func() int { return strings.Count(ts.Output(), "VRRP") }
	waitSeen := func(n int, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for seen() < n {
			if time.Now().After(deadline) {
				t.Fatalf("tshark captured %d VRRP packets, waiting for %s:\n%s", seen(), what, ts.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	c4 := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0", NoMulticast: true})
	c6 := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0", IPv6: true, NoMulticast: true})
	// Warm-up: probes (VRID 60) until tshark shows one; "Capturing on"
	// is printed before the capture is really running.
	probe := vrrp.Advert{Version: 3, VRID: 60, Priority: 1, Interval: time.Second, Addrs: addrs("10.0.0.60")}
	pb, err := probe.Marshal(c4.Src(), vrrp.GroupV4, vrrp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); seen() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tshark never captured a probe:\n%s", ts.Output())
		}
		if err := c4.WriteTo(pb, vrrp.GroupV4); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let in-flight probes land
	probes := seen()
	pass, _ := vrrp.PasswordAuthData("vigil")
	type inst struct {
		adv  vrrp.Advert
		conn *vrrp.Conn
		dst  netip.Addr
		opts vrrp.Options
	}
	insts := []inst{
		{vrrp.Advert{Version: 2, VRID: 61, Priority: 200, AuthType: vrrp.AuthPass, AuthData: pass, Interval: time.Second,
			Addrs: addrs("10.0.0.100", "10.0.0.101")}, c4, vrrp.GroupV4, vrrp.Options{}},
		{vrrp.Advert{Version: 3, VRID: 62, Priority: 201, Interval: 250 * time.Millisecond,
			Addrs: addrs("10.0.0.102")}, c4, vrrp.GroupV4, vrrp.Options{}},
		{vrrp.Advert{Version: 3, VRID: 63, Priority: 202, Interval: 3 * time.Second,
			Addrs: addrs("10.0.0.103", "10.0.0.104")}, c4, kaIP4, vrrp.Options{}},
		{vrrp.Advert{Version: 3, VRID: 64, Priority: 203, Interval: time.Second,
			Addrs: addrs("fe80::64", "fd00::64")}, c6, vrrp.GroupV6, vrrp.Options{}},
		{vrrp.Advert{Version: 3, VRID: 65, Priority: 204, Interval: 40950 * time.Millisecond,
			Addrs: addrs("10.0.0.105")}, c4, vrrp.GroupV4, vrrp.Options{ChecksumAsV2: true}},
	}
	var want []string
	for _, in := range insts {
		s, err := vrrp.NewSender(in.conn, vrrp.SenderConfig{Src: in.conn.Src(), Dsts: []netip.Addr{in.dst}, Options: in.opts})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(in.adv); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		for _, prio := range []uint8{in.adv.Priority, 0} {
			want = append(want, tsharkLine(in.adv, prio, in.dst))
		}
	}
	waitSeen(probes+packets, "our adverts")
	if err := ts.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := ts.Cmd.Wait(); err != nil {
		t.Fatalf("tshark capture: %v\n%s", err, ts.Output())
	}

	tshark := func(args ...string) string {
		t.Helper()
		out, err := l.ka.Run(append([]string{"tshark", "-n", "-r", pcap}, args...)...)
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, out)
		}
		var lines []string
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.Contains(line, "Running as user") {
				lines = append(lines, line)
			}
		}
		return strings.Join(lines, "\n")
	}
	fields := []string{"-T", "fields", "-E", "separator=|", "-E", "aggregator=,"}
	for _, f := range []string{"ip.dst", "ipv6.dst", "ip.ttl", "ipv6.hlim", "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio",
		"vrrp.addr_count", "vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.ip_addr", "vrrp.ipv6_addr",
		"vrrp.auth_string", "vrrp.checksum.status"} {
		fields = append(fields, "-e", f)
	}
	// RFC 5798 checksums (pseudo-header) for everything but VRID 65.
	got := tshark(append([]string{"-Y", "vrrp.virt_rtr_id != 65 && vrrp.virt_rtr_id != 60"}, fields...)...)
	// With the as-v2 preference, VRID 65's checksum is good.
	gotV2 := tshark(append([]string{"-o", "vrrp.v3_checksum_as_in_v2:TRUE", "-Y", "vrrp.virt_rtr_id == 65"}, fields...)...)
	if w := strings.Join(want[:8], "\n"); got != w {
		t.Errorf("tshark dissected:\n%s\nwant:\n%s", got, w)
	}
	if w := strings.Join(want[8:], "\n"); gotV2 != w {
		t.Errorf("tshark (v3_checksum_as_in_v2) dissected:\n%s\nwant:\n%s", gotV2, w)
	}
	// No expert info of any severity on any packet.
	if x := tshark("-Y", "(_ws.expert || _ws.malformed) && vrrp.virt_rtr_id != 65 && vrrp.virt_rtr_id != 60"); x != "" {
		t.Errorf("expert infos in the default dissection:\n%s\n%s", x, tshark("-q", "-z", "expert"))
	}
	if x := tshark("-o", "vrrp.v3_checksum_as_in_v2:TRUE", "-Y", "(_ws.expert || _ws.malformed) && vrrp.virt_rtr_id == 65"); x != "" {
		t.Errorf("expert infos for the as-v2 advert:\n%s", x)
	}
	// Negative control: tshark does verify checksums. Without the
	// preference the two as-v2 adverts of VRID 65 are bad, and flagged.
	bad := tshark("-T", "fields", "-e", "vrrp.virt_rtr_id", "-Y", "vrrp.checksum.status == 0 && _ws.expert")
	if bad != "65\n65" {
		t.Errorf("adverts tshark finds a bad checksum in: %q, want VRID 65 twice", bad)
	}
	t.Logf("tshark -V of our first advert:\n%s", tshark("-V", "-Y", "vrrp.virt_rtr_id == 61 && vrrp.prio == 200"))
}

// tsharkLine renders the fields tshark must dissect from one of our adverts.
func tsharkLine(a vrrp.Advert, prio uint8, dst netip.Addr) string {
	var v4dst, v6dst, ttl, hlim, auth, intv, shortIntv, auths string
	var ips4, ips6 []string
	if dst.Is4() {
		v4dst, ttl = dst.String(), "255"
	} else {
		v6dst, hlim = dst.String(), "255"
	}
	for _, ip := range a.Addrs {
		if ip.Is4() {
			ips4 = append(ips4, ip.String())
		} else {
			ips6 = append(ips6, ip.String())
		}
	}
	if a.Version == 2 {
		auth, intv = fmt.Sprint(a.AuthType), fmt.Sprint(int(a.Interval/time.Second))
		auths = strings.TrimRight(string(a.AuthData[:]), "\x00")
	} else {
		shortIntv = fmt.Sprint(int(a.Interval / (10 * time.Millisecond)))
	}
	return strings.Join([]string{v4dst, v6dst, ttl, hlim, fmt.Sprint(a.Version), "1", fmt.Sprint(a.VRID), fmt.Sprint(prio),
		fmt.Sprint(len(a.Addrs)), auth, intv, shortIntv, strings.Join(ips4, ","), strings.Join(ips6, ","), auths,
		"1"}, "|") // checksum status 1: good
}
