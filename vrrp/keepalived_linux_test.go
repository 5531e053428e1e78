package vrrp_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"vigil/vrrp"
)

// TestKeepalivedAdvertsLive runs keepalived 2.2.7 as MASTER of four
// instances (v2 IPv4 with PASS, v3 IPv4, v3 IPv4 unicast, v3 IPv6) on a
// veth in a namespace, captures its adverts with our raw socket in another
// namespace, and checks every field against the config and our encoding
// against its bytes, for the steady adverts and for the priority-0 adverts
// it sends when stopped. The captures must equal testdata/keepalived/
// (-rewrite regenerates them).
func TestKeepalivedAdvertsLive(t *testing.T) {
	l := newVRRPLab(t)
	c4 := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0"})
	c6 := dial(t, l.vg, vrrp.DialConfig{Interface: "eth0", IPv6: true})
	s4, s6 := sniff(t, c4), sniff(t, c6)
	ka := startKeepalived(t, l.ka, captureInstances...)

	sniffers := func(k kaInstance) *sniffer {
		if k.ipv6 {
			return s6
		}
		return s4
	}
	byVRID := func(k kaInstance, prio uint8) func(capture) bool {
		return func(c capture) bool { v, p := c.vrid(); return v == k.vrid && p == prio }
	}
	caps := map[string]capture{}
	for _, k := range captureInstances {
		c, _, err := sniffers(k).wait(0, 15*time.Second, byVRID(k, k.prio))
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		caps[k.name] = c
	}
	// SIGTERM: keepalived resigns every instance with a priority-0 advert.
	if err := ka.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, k := range captureInstances {
		c, _, err := sniffers(k).wait(0, 10*time.Second, byVRID(k, 0))
		if err != nil {
			t.Fatalf("%s release: %v", k.name, err)
		}
		caps[k.name+"-release"] = c
	}

	for _, k := range captureInstances {
		t.Run(k.name, func(t *testing.T) {
			for name, prio := range map[string]uint8{k.name: k.prio, k.name + "-release": 0} {
				c := caps[name]
				checkCapture(t, k, c, prio)
				if *rewrite {
					if err := os.MkdirAll(filepath.Dir(goldenPath(name)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(goldenPath(name), []byte(goldenHeader+c.String()), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if g := readGolden(t, name); g.String() != c.String() {
					t.Errorf("%s: live capture differs from the golden file:\nlive:\n%sgolden:\n%s", name, c, g)
				}
			}
		})
	}
}
