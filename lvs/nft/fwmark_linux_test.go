//go:build linux

package nft_test

import (
	"net/netip"
	"testing"

	"vigil/lvs"
)

// TestTrafficFWMark: a fwmark service in NAT mode, its packets marked by an
// nft rule in prerouting at mangle priority (as iptables -t mangle would),
// IPv4 and IPv6. As in IPVS, fwmark services are looked up first: the
// fwmark service takes the VIP's traffic from an address service of the
// same VIP and port, which sends everything to rs1. Real servers with a
// port are translated to it; without one the packet keeps its port. Once
// the mark rule is gone, the address service gets new connections.
func TestTrafficFWMark(t *testing.T) {
	families(t, func(t *testing.T, v6 bool) {
		l := newLBLab(t, v6)
		fam, any := "ip", netip.IPv4Unspecified()
		if v6 {
			fam, any = "ip6", netip.IPv6Unspecified()
		}
		l.director.MustRun("nft", "add table "+fam+" marker; add chain "+fam+" marker pre { type filter hook prerouting priority mangle; };"+
			" add rule "+fam+" marker pre "+fam+" daddr "+l.vip+" tcp dport 8080 meta mark set 7")
		reals := twoReals(v6)
		byAddr := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080, Scheduler: "mh", Reals: reals[:1]}
		for _, keepPort := range []bool{false, true} {
			fw := lvs.Service{FWMark: 7, Addr: any, Scheduler: "mh", Reals: append([]lvs.Real{}, reals...)}
			if keepPort {
				for i := range fw.Reals {
					fw.Reals[i].Port = 0
				}
			}
			if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{byAddr, fw}}); err != nil {
				t.Fatal(err)
			}
			count := l.checkPlacement(t, fw, 32, false)
			t.Logf("keep port %t: placement over 32 connections: %v", keepPort, count)
			if count["rs1"] == 0 || count["rs2"] == 0 {
				t.Errorf("keep port %t: one real server got nothing: %v", keepPort, count)
			}
			got, err := l.dp.Read(t.Context())
			if err != nil || !got.Equal(lvs.State{Services: []lvs.Service{byAddr, fw}}) {
				t.Errorf("Read = %v, %v", got.Canonical(), err)
			}
		}
		l.director.MustRun("nft", "delete", "table", fam, "marker")
		for i := range 8 {
			conn, _, name := l.dial(t, netip.AddrPortFrom(l.clientAddr(i), 0))
			conn.Close()
			if name != "rs1" {
				t.Errorf("unmarked connection from %s landed on %s, want rs1 (the address service)", l.clientAddr(i), name)
			}
		}
	})
}
