//go:build !linux

package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// errUnimplemented is returned by Dial where raw sockets are not
// implemented (every OS but Linux).
var errUnimplemented = errors.New("vrrp: raw VRRP sockets are only implemented on Linux")

// Conn is the raw VRRP socket; it is implemented on Linux only. Elsewhere
// Dial fails and every method returns errUnimplemented.
type Conn struct{}

var _ PacketConn = (*Conn)(nil)

// Dial is implemented on Linux only.
func Dial(cfg DialConfig) (*Conn, error) { return nil, errUnimplemented }

// Src is implemented on Linux only.
func (c *Conn) Src() netip.Addr { return netip.Addr{} }

// Interface is implemented on Linux only.
func (c *Conn) Interface() *net.Interface { return nil }

// ReadFrom is implemented on Linux only.
func (c *Conn) ReadFrom(b []byte) (int, PacketInfo, error) {
	return 0, PacketInfo{}, errUnimplemented
}

// WriteTo is implemented on Linux only.
func (c *Conn) WriteTo(b []byte, dst netip.Addr) error { return errUnimplemented }

// SetReadDeadline is implemented on Linux only.
func (c *Conn) SetReadDeadline(t time.Time) error { return errUnimplemented }

// Close is implemented on Linux only.
func (c *Conn) Close() error { return errUnimplemented }
