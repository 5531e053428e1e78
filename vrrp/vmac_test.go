package vrrp

import (
	"strings"
	"testing"
)

// TestParseVMACAddr: use_vmac's MAC argument, six octets or five that
// the VRID completes (keepalived), never a multicast address.
func TestParseVMACAddr(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"02:00:00:00:01:07", "02:00:00:00:01:07", ""},
		{"02:00:00:00:01", "02:00:00:00:01:33", ""},
		{"01:00:5e:00:00:12", "", "multicast"},
		{"02:00:00", "", "six octets"},
		{"vrrp51", "", "six octets"},
	} {
		mac, err := ParseVMACAddr(tc.in, 51)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseVMACAddr(%q) = %v, %v; want an error mentioning %q", tc.in, mac, err, tc.err)
		case tc.err == "" && (err != nil || mac.String() != tc.want):
			t.Errorf("ParseVMACAddr(%q) = %v, %v; want %s", tc.in, mac, err, tc.want)
		}
	}
	if got := (VMAC{VRID: 51, IPv6: true}).Addr().String(); got != "00:00:5e:00:02:33" {
		t.Errorf("IPv6 VMAC address %s", got)
	}
	if got := DefaultVMACName(51); got != "vrrp.51" {
		t.Errorf("DefaultVMACName(51) = %q", got)
	}
}
