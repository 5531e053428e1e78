//go:build !linux

package vrrp

import "net"

// AddVMAC is implemented on Linux only.
func AddVMAC(parent, name string, vrid uint8, ipv6 bool) (*net.Interface, error) {
	return nil, errUnimplemented
}

// DelVMAC is implemented on Linux only.
func DelVMAC(name string) error { return errUnimplemented }
