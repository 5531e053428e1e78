package vrrp_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"vigil/vrrp"
)

// TestKeepalivedComplains is the negative control of TestKeepalivedInterop:
// keepalived (BACKUP, VRID 42, v2 PASS) logs a complaint for every kind of
// bad advert, so the interop test's "no complaint" means something. Each
// bad advert is built with our codec, then spoiled in one field.
func TestKeepalivedComplains(t *testing.T) {
	l := newVRRPLab(t)
	k := kaInstance{name: "neg", version: 2, vrid: 42, prio: 100, interval: time.Second,
		vips: addrs("10.0.0.100"), state: "BACKUP", pass: "vigil"}
	conn := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0"})
	ka := startKeepalived(t, l.ka, k)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(ka.proc.Output(), "Entering BACKUP STATE") {
		if time.Now().After(deadline) {
			t.Fatal("keepalived did not enter BACKUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	marshal := func(a vrrp.Advert) []byte {
		b, err := a.Marshal(conn.Src(), vrrp.GroupV4, vrrp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wrongPass := k.want(200)
	wrongPass.AuthData[0] = 'X'
	wrongAddrs := k.want(200)
	wrongAddrs.Addrs = addrs("10.0.0.99")
	wrongIntvl := k.want(200)
	wrongIntvl.Interval = 2 * time.Second
	badSum := marshal(k.want(200))
	badSum[7] ^= 0x01
	for _, tc := range []struct {
		name     string
		b        []byte
		ttl      int
		complain string
	}{
		{"wrong password", marshal(wrongPass), 255, "received an invalid passwd"},
		{"wrong addresses", marshal(wrongAddrs), 255, "not present in MASTER advert"},
		{"wrong interval", marshal(wrongIntvl), 255, "advertisement interval mismatch"},
		{"bad checksum", badSum, 255, "checksum"},
		{"TTL 64", marshal(k.want(200)), 64, "ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(kaComplaints(ka.proc.Output()))
			if tc.ttl == 255 {
				if err := conn.WriteTo(tc.b, vrrp.GroupV4); err != nil {
					t.Fatal(err)
				}
			} else {
				sendTTL(t, l, conn.Src(), tc.b, tc.ttl)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				c := kaComplaints(ka.proc.Output())[before:]
				for _, line := range c {
					if strings.Contains(strings.ToLower(line), strings.ToLower(tc.complain)) {
						t.Logf("keepalived: %s", line)
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("keepalived did not complain (%q) about an advert with a %s; new complaints: %q", tc.complain, tc.name, c)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// sendTTL multicasts b from vg with another TTL, through a plain raw socket.
func sendTTL(t *testing.T, l *vrrpLab, src netip.Addr, b []byte, ttl int) {
	t.Helper()
	err := l.vg.Do(func() error {
		c, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		p := ipv4.NewPacketConn(c)
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		if err := p.SetMulticastTTL(ttl); err != nil {
			return err
		}
		_, err = p.WriteTo(b, &ipv4.ControlMessage{Src: src.AsSlice()}, &net.IPAddr{IP: vrrp.GroupV4.AsSlice()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
