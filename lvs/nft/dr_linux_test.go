//go:build linux

package nft_test

import (
	"fmt"
	"net/netip"
	"testing"

	"vigil/lvs"
	"vigil/lvs/nft"
	"vigil/test/netns"
)

// TestTrafficDR: direct routing in the netdev family. Client, director and
// two real servers share one segment; the real servers hold the VIP on lo
// and answer the client directly. Every connection must land on the real
// server the Go model predicts, and the director must learn the real
// servers' MACs from its own neighbour table (the default resolver).
func TestTrafficDR(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	c := lab.Host("c")
	c.Link(lan, "eth0", "10.91.0.100/24")
	for i := 1; i < 16; i++ {
		c.MustRun("ip", "addr", "add", fmt.Sprintf("10.91.0.%d/24", 100+i), "dev", "eth0")
	}
	d := lab.Host("d")
	d.Link(lan, "eth0", "10.91.0.11/24", vip+"/24")
	l := &lbLab{client: c, director: d, rs: map[string]*backend{}}
	var reals []lvs.Real
	for i, name := range []string{"rs1", "rs2"} {
		h := lab.Host(name)
		a := fmt.Sprintf("10.91.0.%d", 21+i)
		h.Link(lan, "eth0", a+"/24")
		h.MustRun("ip", "addr", "add", vip+"/32", "dev", "lo")
		for _, k := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth0.arp_ignore=1",
			"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_announce=2"} {
			h.MustRun("sysctl", "-qw", k)
		}
		l.rs[a+":8080"] = startBackend(t, h, ":8080", name)
		reals = append(reals, lvs.Real{Addr: netip.MustParseAddr(a), Port: 8080, Weight: 1, Method: lvs.DR})
		d.MustRun("ping", "-c1", "-W2", a) // the director's neighbour table now has its MAC
	}
	opt := nft.Options{Table: "vigil", Seed: testSeed, DRInterface: "eth0"}
	l.opt = opt
	l.dp = openDP(t, d, opt)
	svc := lvs.Service{Proto: lvs.TCP, Addr: netip.MustParseAddr(vip), Port: 8080, Scheduler: "mh", Reals: reals}
	if err := l.dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{svc}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", d.MustRun("nft", "list", "table", "netdev", "vigil_dr"))
	count := map[string]int{}
	for i := range 16 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 91, 0, byte(100 + i)}), 0)
		want, ok := opt.Place(svc, src)
		if !ok {
			t.Fatalf("no placement for %s", src)
		}
		conn, _, got := l.dial(t, src)
		conn.Close()
		if got != l.rs[want.String()].name {
			t.Errorf("%s landed on %s, the model predicts %s", src, got, l.rs[want.String()].name)
		}
		count[got]++
	}
	t.Logf("placement over 16 DR connections: %v", count)
	if count["rs1"] == 0 || count["rs2"] == 0 {
		t.Errorf("one real server got nothing: %v", count)
	}
	got, err := l.dp.Read(t.Context())
	if err != nil || !got.Equal(lvs.State{Services: []lvs.Service{svc}}) {
		t.Errorf("Read = %v, %v", got, err)
	}
	// Back to no DR service: the netdev table goes away.
	if err := l.dp.Apply(t.Context(), lvs.State{}); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Run("nft", "list", "table", "netdev", "vigil_dr"); err == nil {
		t.Errorf("netdev table left behind:\n%s", out)
	}
}
