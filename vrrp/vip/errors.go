package vip

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors. Every error of this package wraps one of them (through an
// *OpError), so callers test with errors.Is.
var (
	// ErrExist: the address is already on the interface (EEXIST).
	ErrExist = errors.New("address already assigned")
	// ErrNotExist: the address is not on the interface (the kernel says
	// EADDRNOTAVAIL, some paths ENOENT).
	ErrNotExist = errors.New("address not assigned")
	// ErrNoInterface: the interface does not exist (ENODEV).
	ErrNoInterface = errors.New("no such interface")
	// ErrInvalid: the request itself is malformed (bad prefix, label too
	// long, lifetime out of range).
	ErrInvalid = errors.New("invalid request")
	// ErrUnimplemented: the kernel seam does not exist on this platform.
	ErrUnimplemented = errors.New("not implemented on this platform")
	// ErrClosed: the Announcer or Manager was closed.
	ErrClosed = errors.New("closed")
)

// OpError is the error of one operation on one address: Op is "add",
// "replace", "delete", "list", "announce"; Iface and Addr say where (Addr
// may be the zero prefix for interface-wide operations).
type OpError struct {
	Op    string
	Iface string
	Addr  netip.Prefix
	Err   error
}

func (e *OpError) Error() string {
	switch {
	case e.Addr.IsValid():
		return fmt.Sprintf("vip: %s %s on %s: %v", e.Op, e.Addr, e.Iface, e.Err)
	case e.Iface != "":
		return fmt.Sprintf("vip: %s on %s: %v", e.Op, e.Iface, e.Err)
	}
	return fmt.Sprintf("vip: %s: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error (a sentinel, often joined with the
// kernel's errno).
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, iface string, p netip.Prefix, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Iface: iface, Addr: p, Err: err}
}
