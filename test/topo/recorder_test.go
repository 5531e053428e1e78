package topo

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"vigil/test/netns"
	"vigil/vrrp"
	"vigil/vrrp/vip"
)

// TestRecorder, for real in namespaces: d1 sends a gratuitous ARP request
// and reply for the VIP (the project's GARP encoder), d2 a VRRP advert of
// VRID 51 at priority 150 (the vrrp codec, on a raw socket), and d3, given
// the VIP, answers the client's ARP requests. The recorder, tapped into
// the bridges and sending nothing, has each frame once, with its kind, the
// director its MAC belongs to, its link and the advert's decoded fields;
// and the client's observer records d3 answering.
func TestRecorder(t *testing.T) {
	th := New(t, netns.New(t), Subnets{LAN: "10.96.0", HB: "192.168.96"})
	rec, err := Record(th)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	vipAddr := netip.MustParseAddr(th.Net.VIP())
	start := time.Now()

	if err := th.D["d1"].Host.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := packet.Listen(ifi, packet.Raw, ethPAll, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, reply := range []bool{false, true} {
			f, err := vip.GARPFrame(ifi.HardwareAddr, vipAddr, reply)
			if err != nil {
				return err
			}
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("d1 sending gratuitous ARPs: %v", err)
	}
	if err := th.D["d2"].Host.Do(func() error {
		c, err := vrrp.Dial(vrrp.DialConfig{Interface: "eth0"})
		if err != nil {
			return err
		}
		defer c.Close()
		a := vrrp.Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, Addrs: []netip.Addr{vipAddr}}
		b, err := a.Marshal(netip.MustParseAddr(th.D["d2"].LANIP), vrrp.GroupV4, vrrp.Options{})
		if err != nil {
			return err
		}
		return c.WriteTo(b, vrrp.GroupV4)
	}); err != nil {
		t.Fatalf("d2 sending an advert: %v", err)
	}
	th.D["d3"].Host.MustRun("ip", "addr", "add", th.Net.VIP()+"/32", "dev", "eth0")
	obs, err := Observe(th, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	for deadline := time.Now().Add(5 * time.Second); Count(rec.Events(start, time.Time{}), ARPReply) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no ARP reply recorded within 5 s; recorded:\n%s", dump(rec.Events(start, time.Time{})))
		}
	}
	time.Sleep(200 * time.Millisecond) // the frames sent first are surely in by now
	evs := rec.Events(start, time.Time{})
	d1mac, _ := th.D["d1"].LAN.MAC()
	d2mac, _ := th.D["d2"].LAN.MAC()

	var garps, adverts []Event
	replies := map[string]int{}
	for _, e := range evs {
		if !e.At.After(start) || e.At.After(time.Now()) {
			t.Errorf("event %v stamped outside the test", e)
		}
		switch {
		case e.Kind == GratuitousARP && e.IP == vipAddr:
			garps = append(garps, e)
		case e.Kind == Advert:
			adverts = append(adverts, e)
		case e.Kind == ARPReply && e.IP == vipAddr:
			replies[e.Who]++
		}
	}
	if len(garps) != 2 {
		t.Errorf("gratuitous ARPs for the VIP: %d, want the request and the reply once each:\n%s", len(garps), dump(evs))
	}
	for _, e := range garps {
		if e.Who != "d1" || e.MAC != d1mac || e.Link != "lan" {
			t.Errorf("gratuitous ARP %v, want from d1 (%s) on the lan", e, d1mac)
		}
	}
	if len(adverts) != 1 {
		t.Fatalf("adverts: %d, want 1:\n%s", len(adverts), dump(evs))
	}
	a := adverts[0]
	if a.Err != nil || a.Who != "d2" || a.MAC != d2mac || a.Link != "lan" || a.IP != netip.MustParseAddr(th.D["d2"].LANIP) ||
		a.VRID != 51 || a.Priority != 150 || a.Interval != time.Second || !slices.Equal(a.Addrs, []netip.Addr{vipAddr}) {
		t.Errorf("advert %v (interval %v, addresses %v), want d2's (%s, %s) VRID 51 priority 150 every 1s for %s", a, a.Interval, a.Addrs, d2mac, th.D["d2"].LANIP, vipAddr)
	}
	if len(replies) != 1 || replies["d3"] == 0 {
		t.Errorf("ARP replies for the VIP by director: %v, want d3's only", replies)
	}
	if ch := obs.Changes(start, time.Time{}); len(ch) == 0 || !slices.Equal(ch[len(ch)-1].Who, []string{"d3"}) {
		t.Errorf("the client's record: %v, want it to end with d3 answering", ch)
	}
}

func dump(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}
