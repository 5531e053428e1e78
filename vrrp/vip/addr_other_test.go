//go:build !linux

package vip

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNetlinkConnUnimplemented(t *testing.T) {
	if _, err := NewNetlinkConn(); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("NewNetlinkConn: %v, want ErrUnimplemented", err)
	}
	var c NetlinkConn
	a := Address{Iface: "eth0", Prefix: netip.MustParsePrefix("10.0.0.200/24")}
	for name, err := range map[string]error{
		"Add":     c.Add(a),
		"Replace": c.Replace(a),
		"Delete":  c.Delete(a.Iface, a.Prefix),
	} {
		if !errors.Is(err, ErrUnimplemented) {
			t.Errorf("%s: %v, want ErrUnimplemented", name, err)
		}
	}
	if _, err := c.List("eth0"); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("List: %v, want ErrUnimplemented", err)
	}
}

func TestLinkSenderUnimplemented(t *testing.T) {
	if _, err := NewLinkSender(SenderOptions{}); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("NewLinkSender: %v, want ErrUnimplemented", err)
	}
	var s LinkSender
	if err := s.Send(Target{"eth0", netip.MustParseAddr("10.0.0.200")}); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("Send: %v, want ErrUnimplemented", err)
	}
}
