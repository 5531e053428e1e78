//go:build !linux

package vrrp

import (
	"errors"
	"testing"
)

func TestDialUnimplemented(t *testing.T) {
	c, err := Dial(DialConfig{Interface: "eth0"})
	if !errors.Is(err, errUnimplemented) || c != nil {
		t.Fatalf("Dial = %v, %v; want nil, errUnimplemented", c, err)
	}
	var z Conn
	if err := z.WriteTo(nil, GroupV4); !errors.Is(err, errUnimplemented) {
		t.Errorf("WriteTo = %v, want errUnimplemented", err)
	}
	if _, _, err := z.ReadFrom(nil); !errors.Is(err, errUnimplemented) {
		t.Errorf("ReadFrom = %v, want errUnimplemented", err)
	}
}

func TestVMACUnimplemented(t *testing.T) {
	if _, err := AddVMAC("eth0", "vrrp.51", 51, false); !errors.Is(err, errUnimplemented) {
		t.Errorf("AddVMAC = %v, want errUnimplemented", err)
	}
	if err := DelVMAC("vrrp.51"); !errors.Is(err, errUnimplemented) {
		t.Errorf("DelVMAC = %v, want errUnimplemented", err)
	}
}
