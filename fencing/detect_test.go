package fencing

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

var (
	macD1    = mac("02:00:00:00:00:01")
	macD2    = mac("02:00:00:00:00:02")
	macRogue = mac("02:00:00:00:00:99")
	addrD1   = netip.MustParseAddr("10.0.0.11")
	addrD2   = netip.MustParseAddr("10.0.0.12")
	addrR    = netip.MustParseAddr("10.0.0.99")
	vip1     = netip.MustParseAddr("10.0.0.100")
)

func table() HolderTable {
	return HolderTable{
		"VI_1": {VRID: 51, VIPs: []netip.Addr{vip1}, Holder: Holder{Node: "d1", Addr: addrD1, MAC: macD1, Epoch: 42},
			Previous: Holder{Node: "d2", Addr: addrD2, MAC: macD2, Epoch: 40}, PreviousUntil: t0.Add(3 * time.Second)},
		"VI_2": {VRID: 52, VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.101")}},
	}
}

func TestDetectRogueAdvert(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  AdvertObservation
		want string // Alert.String(), "" for no alert
	}{
		{"holder's own advert", AdvertObservation{At: t0, VRID: 51, Src: addrD1, Priority: 100}, ""},
		{"holder's advert as v4-mapped v6", AdvertObservation{At: t0, VRID: 51, Src: netip.AddrFrom16(addrD1.As16()), Priority: 100}, ""},
		{"not our VRID", AdvertObservation{At: t0, VRID: 7, Src: addrR, Priority: 254}, ""},
		{"previous holder's priority-0 advert within grace", AdvertObservation{At: t0.Add(time.Second), VRID: 51, Src: addrD2, Priority: 0}, ""},
		{"previous holder after grace", AdvertObservation{At: t0.Add(5 * time.Second), VRID: 51, Src: addrD2, Priority: 100},
			"rogue_advert instance=VI_1 peer=10.0.0.12 severity=critical epoch=42 holder=d1 holder_addr=10.0.0.11 priority=100 src=10.0.0.12 vrid=51"},
		{"rogue keepalived 254", AdvertObservation{At: t0, Iface: "eth0", VRID: 51, Src: addrR, Priority: 254, Version: 2},
			"rogue_advert instance=VI_1 peer=10.0.0.99 severity=critical epoch=42 holder=d1 holder_addr=10.0.0.11 iface=eth0 priority=254 src=10.0.0.99 version=2 vrid=51"},
		{"advert for an unheld VRID", AdvertObservation{At: t0, VRID: 52, Src: addrD1, Priority: 100},
			"rogue_advert instance=VI_2 peer=10.0.0.11 severity=critical holder=nobody priority=100 src=10.0.0.11 vrid=52"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := DetectRogueAdvert(tc.obs, table())
			got := ""
			if ok {
				got = a.String()
				if a.Since != tc.obs.At || a.Count != 1 || a.Message == "" {
					t.Errorf("alert fields: %+v", a)
				}
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDetectARPConflict(t *testing.T) {
	unknownMAC := table()
	ih := unknownMAC["VI_1"]
	ih.Holder.MAC = nil
	unknownMAC["VI_1"] = ih
	for _, tc := range []struct {
		name string
		obs  ARPObservation
		tab  HolderTable
		want string
	}{
		{"holder's reply", ARPObservation{At: t0, SenderIP: vip1, SenderMAC: macD1}, nil, ""},
		{"not a VIP", ARPObservation{At: t0, SenderIP: addrR, SenderMAC: macRogue}, nil, ""},
		{"previous holder within grace", ARPObservation{At: t0.Add(2 * time.Second), SenderIP: vip1, SenderMAC: macD2}, nil, ""},
		{"previous holder after grace", ARPObservation{At: t0.Add(3 * time.Second), SenderIP: vip1, SenderMAC: macD2},
			nil, "arp_conflict instance=VI_1 peer=02:00:00:00:00:02 severity=critical epoch=42 arp=reply holder=d1 holder_mac=02:00:00:00:00:01 mac=02:00:00:00:00:02 vip=10.0.0.100"},
		{"rogue GARP", ARPObservation{At: t0, Iface: "eth0", SenderIP: vip1, SenderMAC: macRogue, Gratuitous: true},
			nil, "arp_conflict instance=VI_1 peer=02:00:00:00:00:99 severity=critical epoch=42 arp=gratuitous holder=d1 holder_mac=02:00:00:00:00:01 iface=eth0 mac=02:00:00:00:00:99 vip=10.0.0.100"},
		{"claim for an unheld VIP", ARPObservation{At: t0, SenderIP: netip.MustParseAddr("10.0.0.101"), SenderMAC: macD1},
			nil, "arp_conflict instance=VI_2 peer=02:00:00:00:00:01 severity=critical arp=reply holder=nobody mac=02:00:00:00:00:01 vip=10.0.0.101"},
		{"holder MAC unknown: cannot judge", ARPObservation{At: t0, SenderIP: vip1, SenderMAC: macRogue}, unknownMAC, ""},
		{"no sender MAC", ARPObservation{At: t0, SenderIP: vip1}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := tc.tab
			if tab == nil {
				tab = table()
			}
			a, ok := DetectARPConflict(tc.obs, tab)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestFlapDetector(t *testing.T) {
	f := FlapDetector{Window: time.Minute, MaxMoves: 2}
	steps := []struct {
		at       time.Duration
		move     bool
		n        int
		flapping bool
	}{
		{0, true, 1, false},
		{10 * time.Second, true, 2, false},
		{20 * time.Second, true, 3, true},
		{30 * time.Second, false, 3, true},
		{60 * time.Second, false, 2, false}, // the move at 0 left the window
		{65 * time.Second, true, 3, true},
		{200 * time.Second, false, 0, false},
	}
	for i, s := range steps {
		var n int
		var fl bool
		if s.move {
			n, fl = f.Move("VI_1", t0.Add(s.at))
		} else {
			n, fl = f.Count("VI_1", t0.Add(s.at))
		}
		if n != s.n || fl != s.flapping {
			t.Errorf("step %d at %v: got (%d, %v), want (%d, %v)", i, s.at, n, fl, s.n, s.flapping)
		}
	}
	if n, _ := f.Count("other", t0); n != 0 {
		t.Errorf("unknown instance counted %d", n)
	}
}
