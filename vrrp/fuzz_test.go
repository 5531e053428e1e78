package vrrp

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// Crashers found by fuzzing live in testdata/fuzz/<FuzzName>/ as named seeds
// and run with every `go test`.

func addrPair(is6 bool) (netip.Addr, netip.Addr) {
	if is6 {
		return src6, GroupV6
	}
	return src4, GroupV4
}

// FuzzParse: Parse never panics, and whatever it accepts re-encodes to the
// same bytes, except the v3 reserved bits, which are ignored.
func FuzzParse(f *testing.F) {
	for _, g := range goldens {
		f.Add(g.wire, g.src.Is6(), g.opts.ChecksumAsV2)
	}
	f.Fuzz(func(t *testing.T, b []byte, is6, asV2 bool) {
		src, dst := addrPair(is6)
		o := Options{ChecksumAsV2: asV2}
		a, err := Parse(b, src, dst, ParseOptions{Options: o, HopLimit: 255})
		if err != nil {
			if a != nil {
				t.Fatalf("Parse returned an advert and %v", err)
			}
			if Reason(err) == ReasonOther {
				t.Fatalf("Parse error without a drop reason: %v", err)
			}
			return
		}
		out, err := a.Marshal(src, dst, o)
		if err != nil {
			t.Fatalf("Marshal of a parsed advert %+v: %v", a, err)
		}
		want := append([]byte(nil), b...)
		if a.Version == 3 && want[4]&0xf0 != 0 {
			// Reserved bits are dropped, so the checksum changes too.
			want[4] &= 0x0f
			copy(want[6:8], out[6:8])
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", want, out)
		}
	})
}

// FuzzAdvertRoundTrip: every advert Marshal accepts parses back to itself.
func FuzzAdvertRoundTrip(f *testing.F) {
	f.Add(uint8(2), uint8(51), uint8(100), uint8(AuthPass), uint16(1), []byte{10, 0, 0, 100}, []byte("secret"), false, false)
	f.Add(uint8(3), uint8(51), uint8(0), uint8(0), uint16(100), []byte{10, 0, 0, 100, 10, 0, 0, 101}, []byte(nil), false, true)
	f.Add(uint8(3), uint8(7), uint8(255), uint8(0), uint16(4095), bytes.Repeat([]byte{0xfe, 0x80, 0, 1}, 8), []byte(nil), true, false)
	f.Fuzz(func(t *testing.T, version, vrid, prio, authType uint8, intvl uint16, addrBytes, auth []byte, is6, asV2 bool) {
		a := Advert{Version: version, VRID: vrid, Priority: prio, AuthType: authType}
		if version == 2 {
			a.Interval = time.Duration(intvl) * time.Second
		} else {
			a.Interval = time.Duration(intvl) * 10 * time.Millisecond
		}
		copy(a.AuthData[:], auth)
		alen := 4
		if is6 {
			alen = 16
		}
		for ; len(addrBytes) >= alen; addrBytes = addrBytes[alen:] {
			ip, _ := netip.AddrFromSlice(addrBytes[:alen])
			a.Addrs = append(a.Addrs, ip)
		}
		src, dst := addrPair(is6)
		o := Options{ChecksumAsV2: asV2}
		b, err := a.Marshal(src, dst, o)
		if err != nil {
			if Reason(err) == ReasonOther {
				t.Fatalf("Marshal error without a reason: %v", err)
			}
			return
		}
		if len(b) != a.Len(is6) {
			t.Fatalf("Len = %d, encoded %d bytes", a.Len(is6), len(b))
		}
		got, err := Parse(b, src, dst, ParseOptions{Options: o, HopLimit: 255})
		if err != nil {
			t.Fatalf("Parse(Marshal(%+v)) = %v", a, err)
		}
		if !reflect.DeepEqual(*got, a) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, a)
		}
	})
}
