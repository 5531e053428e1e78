package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"vigil/vrrp"
	"vigil/vrrp/vrrptest"
)

func ExampleAdvert_AppendMarshal() {
	a := vrrp.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
	src := netip.MustParseAddr("10.0.0.2")
	b, err := a.AppendMarshal(nil, src, vrrp.GroupV4, vrrp.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)
	got, err := vrrp.Parse(b, src, vrrp.GroupV4, vrrp.ParseOptions{HopLimit: 255})
	fmt.Println(got.VRID, got.Priority, got.Interval, got.Addrs, err)
	_, err = vrrp.Parse(b, src, vrrp.GroupV4, vrrp.ParseOptions{HopLimit: 64})
	fmt.Println(vrrp.Reason(err), err)
	// Output:
	// 31 33 64 01 00 64 75 72 0a 00 00 64
	// 51 100 1s [10.0.0.100] <nil>
	// ttl vrrp: parse: TTL/hop limit is not 255: got 64
}

// A holder's Sender and another director's Listener on an in-memory LAN.
// In the agent the PacketConn is a *vrrp.Conn from vrrp.Dial.
func ExampleListener() {
	lan := vrrptest.NewLAN()
	holder := netip.MustParseAddr("10.0.0.11")
	rogue := netip.MustParseAddr("10.0.0.66")
	vip := netip.MustParseAddr("10.0.0.100")

	watcher := lan.Port(netip.MustParseAddr("10.0.0.12"))
	foreign := make(chan vrrp.Foreign, 1)
	l, _ := vrrp.NewListener(watcher, vrrp.ListenerConfig{
		Lookup: func(vrid uint8) (vrrp.Watch, bool) {
			return vrrp.Watch{Local: vrrp.Local{Version: 3}, Holder: holder}, vrid == 51
		},
		OnForeign: func(f vrrp.Foreign) { foreign <- f },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	adv := vrrp.Advert{Version: 3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{vip}}
	for _, src := range []netip.Addr{holder, rogue} {
		s, _ := vrrp.NewSender(lan.Port(src), vrrp.SenderConfig{Src: src, Dsts: []netip.Addr{vrrp.GroupV4}})
		s.Hold(adv) // one advert at once; Run would repeat it every second
	}
	f := <-foreign
	fmt.Println("foreign advert for VRID", f.Advert.VRID, "from", f.Info.Src, "expected", f.Expected)
	cancel()
	<-done
	st := l.Stats()
	fmt.Println("received", st.Received, "valid", st.Valid, "foreign", st.Foreign)
	// Output:
	// foreign advert for VRID 51 from 10.0.0.66 expected 10.0.0.11
	// received 2 valid 2 foreign 1
}
