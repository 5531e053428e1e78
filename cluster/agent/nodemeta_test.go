package agent

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	a, _ := net.ParseMAC("02:00:00:00:00:0a")
	v, _ := net.ParseMAC("00:00:5e:00:01:33")
	b, err := encodeMeta([]net.HardwareAddr{a, v, a})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x01\x02\x00\x00\x00\x00\x0a\x00\x00\x5e\x00\x01\x33"; string(b) != want {
		t.Fatalf("encoded %x, want %x", b, want)
	}
	got, err := decodeMeta(b)
	if err != nil || fmt.Sprint(got) != "[02:00:00:00:00:0a 00:00:5e:00:01:33]" {
		t.Fatalf("decoded %v, %v", got, err)
	}
	if got, err := decodeMeta(nil); got != nil || err != nil {
		t.Fatalf("empty metadata: %v, %v", got, err)
	}
}

func TestMetaBad(t *testing.T) {
	many := make([]net.HardwareAddr, maxMetaMACs+1)
	for i := range many {
		many[i] = net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
	}
	if b, err := encodeMeta(many[:maxMetaMACs]); err != nil || len(b) > 512 {
		t.Fatalf("%d MACs: %d bytes, %v", maxMetaMACs, len(b), err)
	}
	for _, bad := range [][]net.HardwareAddr{many, {{1, 2, 3}}} {
		if _, err := encodeMeta(bad); !errors.Is(err, errBadMeta) {
			t.Errorf("encode %d MACs: %v, want errBadMeta", len(bad), err)
		}
	}
	for _, bad := range []string{"\x02\x01\x02\x03\x04\x05\x06", "\x01\x01\x02"} {
		if _, err := decodeMeta([]byte(bad)); !errors.Is(err, errBadMeta) {
			t.Errorf("decode %x: %v, want errBadMeta", bad, err)
		}
	}
}
