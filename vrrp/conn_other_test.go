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
	if _, err := AddVMAC(VMAC{Parent: "eth0", Name: "vrrp.51", VRID: 51}); !errors.Is(err, errUnimplemented) {
		t.Errorf("AddVMAC = %v, want errUnimplemented", err)
	}
	if _, err := PrepareVMACParent("eth0"); !errors.Is(err, errUnimplemented) {
		t.Errorf("PrepareVMACParent = %v, want errUnimplemented", err)
	}
	if err := DelVMAC("vrrp.51"); !errors.Is(err, errUnimplemented) {
		t.Errorf("DelVMAC = %v, want errUnimplemented", err)
	}
}
