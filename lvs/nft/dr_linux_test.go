//go:build linux

package nft_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"vigil/lvs"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// newDRLab: client, director and two real servers share one segment
// (10.91.0.0/24 or fd91::/64); the real servers hold the VIP on lo (IPv4:
// with arp_ignore/arp_announce; IPv6 answers neighbour solicitations only
// for the receiving interface's addresses) and answer the client directly.
// The director has pinged them, so its neighbour table has their MACs. It
// returns the lab and the two real servers (port 8080, DR).
func newDRLab(t *testing.T, v6 bool) (*lbLab, []lvs.Real) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	pl := prefixLen(v6)
	c := lab.Host("c")
	c.Link(lan, "eth0", labAddr(v6, 1, 100)+pl)
	for i := 1; i < 16; i++ {
		c.MustRun("ip", "addr", "add", labAddr(v6, 1, 100+i)+pl, "dev", "eth0")
	}
	l := &lbLab{client: c, rs: map[string]*backend{}, vip: labAddr(v6, 1, 200), v6: v6}
	d := lab.Host("d")
	d.Link(lan, "eth0", labAddr(v6, 1, 11)+pl)
	// The VIP, deprecated so that the director's own packets (its pings
	// below) do not take it as source: the real servers hold it too.
	d.MustRun("ip", "addr", "add", l.vip+pl, "dev", "eth0", "preferred_lft", "0")
	l.director = d
	var reals []lvs.Real
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := labAddr(v6, 1, 21+i)
		h.Link(lan, "eth0", a+pl)
		if v6 {
			h.MustRun("ip", "addr", "add", l.vip+"/128", "dev", "lo")
		} else {
			h.MustRun("ip", "addr", "add", l.vip+"/32", "dev", "lo")
			for _, k := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth0.arp_ignore=1",
				"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_announce=2"} {
				h.MustRun("sysctl", "-qw", k)
			}
		}
		l.rs[net.JoinHostPort(a, "8080")] = startBackend(t, h, ":8080", name)
		reals = append(reals, lvs.Real{Addr: netip.MustParseAddr(a), Port: 8080, Weight: 1, Method: lvs.DR})
		d.MustRun("ping", "-c1", "-W2", a) // the director's neighbour table now has its MAC
	}
	l.opt = nft.Options{Table: "vigil", Seed: testSeed, DRInterface: "eth0"}
	l.dp = openDP(t, d, l.opt)
	return l, reals
}

// TestTrafficDR: direct routing in the netdev family, IPv4 and IPv6. Every
// connection must land on the real server the Go model predicts, and the
// director must learn the real servers' MACs from its own neighbour table
// (the default resolver).
func TestTrafficDR(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IPv4", true: "IPv6"}[v6], func(t *testing.T) {
			l, reals := newDRLab(t, v6)
			svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(l.vip), Port: 8080, Scheduler: "mh", Reals: reals}
			if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
				t.Fatal(err)
			}
			table := map[bool]string{false: "vigil_dr", true: "vigil_dr6"}[v6]
			t.Logf("%s", l.director.MustRun("nft", "list", "table", "netdev", table))
			count := l.checkPlacement(t, svc, 16, false)
			t.Logf("placement over 16 DR connections: %v", count)
			if count["rs1"] == 0 || count["rs2"] == 0 {
				t.Errorf("one real server got nothing: %v", count)
			}
			got, err := l.dp.Read(t.Context())
			if err != nil || !got.Equal(lvs.State{Services: []lvs.Service{svc}}) {
				t.Errorf("Read = %v, %v", got, err)
			}
			// A director whose DR interface is gone (another datapath on
			// the same tables, DRInterface missing): Apply reports it and
			// leaves the DR service as it is, forwarding still.
			broken := l.opt
			broken.DRInterface = "nosuch0"
			bdp := openDP(t, l.director, broken)
			if err := bdp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err == nil || !strings.Contains(err.Error(), "nosuch0") {
				t.Errorf("Apply without the DR interface = %v, want an error naming it", err)
			}
			l.checkPlacement(t, svc, 4, false)
			// Back to no DR service: the netdev table goes away.
			if err := l.dp.Apply(t.Context(), lvs.State{}); err != nil {
				t.Fatal(err)
			}
			if out, err := l.director.Run("nft", "list", "table", "netdev", table); err == nil {
				t.Errorf("netdev table left behind:\n%s", out)
			}
		})
	}
}

// TestTrafficDRFWMark: a fwmark service in DR mode. Its marks must be set
// before vigil's ingress chain (priority filter) sees the frame: here by a
// netdev ingress chain of priority -10, as the package doc says (marks set
// later, in prerouting, come too late for DR).
func TestTrafficDRFWMark(t *testing.T) {
	l, reals := newDRLab(t, false)
	l.director.MustRun("nft", "add table netdev marker; add chain netdev marker in { type filter hook ingress device eth0 priority -10; };"+
		" add rule netdev marker in ip daddr "+l.vip+" tcp dport 8080 meta mark set 7")
	for i := range reals {
		reals[i].Port = 0 // IPVS ignores a DR real server's port; so does vigil
	}
	svc := lvs.Service{FWMark: 7, Scheduler: "sh", Reals: reals}
	if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	count := l.checkPlacement(t, svc, 16, false)
	t.Logf("placement over 16 DR fwmark connections: %v", count)
	if count["rs1"] == 0 || count["rs2"] == 0 {
		t.Errorf("one real server got nothing: %v", count)
	}
}
