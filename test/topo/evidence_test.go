package topo

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestTwoMasters: adverts of one VRID from two directors within an advert
// interval of each other make an overlap, merged while they go on; a
// priority-0 advert (the old master resigning) ends its sender's claim;
// other VRIDs, and adverts further apart than the interval, do not count.
func TestTwoMasters(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	adv := func(ms int, who string, vrid, prio uint8) Event {
		return Event{At: at(ms), Kind: Advert, Who: who, VRID: vrid, Priority: prio}
	}
	evs := []Event{
		adv(0, "d1", 51, 100), adv(1000, "d1", 51, 100),
		adv(1500, "d2", 51, 99), // d1's last was 500 ms before: an overlap from 1000
		adv(2000, "d1", 51, 100), adv(2500, "d2", 51, 99),
		adv(3000, "d1", 51, 0), // d1 resigns
		adv(3500, "d2", 51, 99), adv(4500, "d2", 51, 99),
		adv(4600, "d3", 52, 100), // another VRID
		adv(7000, "d3", 51, 100), // d2's last was 2.5 s before
		adv(7100, "d1", 51, 0),   // a resignation claims nothing
		adv(9000, "d1", 51, 100), // d3's last 2 s before
		adv(9300, "d3", 51, 100), // overlap again
		{At: at(9400), Kind: GratuitousARP, Who: "d2", IP: netip.MustParseAddr("10.0.0.1")},
	}
	got := TwoMasters(evs, 51, time.Second)
	want := []Overlap{{From: at(1000), To: at(2500), Who: []string{"d1", "d2"}}, {From: at(9000), To: at(9300), Who: []string{"d1", "d3"}}}
	if len(got) != len(want) {
		t.Fatalf("overlaps %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) || !slices.Equal(got[i].Who, want[i].Who) {
			t.Errorf("overlap %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if got[0].Duration() != 1500*time.Millisecond {
		t.Errorf("first overlap lasted %v, want 1.5s", got[0].Duration())
	}
	if ov := TwoMasters(evs, 52, time.Second); len(ov) != 0 {
		t.Errorf("VRID 52 had one master, got overlaps %+v", ov)
	}
}

// TestSeveralGARPs: gratuitous ARPs for the VIP from two directors within
// the window overlap; ARP replies, and gratuitous ARPs for other
// addresses, do not count.
func TestSeveralGARPs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	vip, other := netip.MustParseAddr("10.0.0.200"), netip.MustParseAddr("10.0.0.11")
	ev := func(ms int, who string, k Kind, ip netip.Addr) Event {
		return Event{At: t0.Add(time.Duration(ms) * time.Millisecond), Kind: k, Who: who, IP: ip}
	}
	evs := []Event{
		ev(0, "d1", GratuitousARP, vip), ev(100, "d2", ARPReply, vip), ev(200, "d2", GratuitousARP, other),
		ev(2000, "d2", GratuitousARP, vip), ev(2300, "d3", GratuitousARP, vip), ev(2400, "d2", GratuitousARP, vip),
	}
	got := SeveralGARPs(evs, vip, time.Second)
	if len(got) != 1 || !slices.Equal(got[0].Who, []string{"d2", "d3"}) || got[0].Duration() != 400*time.Millisecond {
		t.Errorf("overlaps %+v, want d2 d3 for 400ms", got)
	}
	if n := Count(evs, GratuitousARP); n != 5 {
		t.Errorf("Count gratuitous = %d, want 5", n)
	}
}
