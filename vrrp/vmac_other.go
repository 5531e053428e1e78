//go:build !linux

package vrrp

import "net"

// AddVMAC is implemented on Linux only.
func AddVMAC(v VMAC) (*net.Interface, error) { return nil, errUnimplemented }

// PrepareVMACParent is implemented on Linux only.
func PrepareVMACParent(parent string) (restore func() error, err error) {
	return nil, errUnimplemented
}

// DelVMAC is implemented on Linux only.
func DelVMAC(name string) error { return errUnimplemented }
