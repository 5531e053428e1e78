package ipvs

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"vigil/lvs"
)

func TestFlagsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		sched string
		flags lvs.Flags
		bits  uint32
	}{
		{"wrr", lvs.FlagPersistent, svcPersistent},
		{"sh", lvs.FlagSHPort | lvs.FlagSHFallback, svcSched1 | svcSched2},
		{"mh", lvs.FlagMHPort, svcSched2},
		{"mh", lvs.FlagMHFallback | lvs.FlagPersistent, svcSched1 | svcPersistent},
	} {
		s := lvs.Service{Scheduler: tc.sched, Flags: tc.flags}
		if got := kernelFlags(s); got != tc.bits {
			t.Errorf("%s %s: kernel flags %#x, want %#x", tc.sched, tc.flags, got, tc.bits)
		}
		// The kernel reads back with IP_VS_SVC_F_HASHED set.
		if got := flagsFromKernel(tc.bits|svcHashed, tc.sched); got != tc.flags {
			t.Errorf("%s: flags from %#x = %s, want %s", tc.sched, tc.bits|svcHashed, got, tc.flags)
		}
	}
}

func TestNetmask(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	for _, bits := range []uint8{0, 8, 24, 32} {
		if got := netmaskFromKernel(v4, kernelNetmask(v4, bits)); got != bits {
			t.Errorf("/%d round trip: /%d", bits, got)
		}
	}
	// 255.255.255.0 must go out as the bytes ff ff ff 00 (__be32).
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], kernelNetmask(v4, 24)) // as moby/ipvs marshals it
	if b != [4]byte{0xff, 0xff, 0xff, 0} {
		t.Errorf("/24 on the wire: % x", b)
	}
	v6 := netip.MustParseAddr("fd00::1")
	if kernelNetmask(v6, 64) != 64 || netmaskFromKernel(v6, 64) != 64 {
		t.Errorf("IPv6 netmask is a prefix length")
	}
}
