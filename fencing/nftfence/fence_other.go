//go:build !linux

package nftfence

import (
	"net/netip"
	"time"
)

// Fence is unavailable off Linux.
type Fence struct{}

// New returns ErrUnimplemented off Linux.
func New(vips []netip.Addr) (*Fence, error) { return nil, ErrUnimplemented }

// Set returns ErrUnimplemented off Linux.
func (f *Fence) Set(now time.Time, held []Held) error { return ErrUnimplemented }

// SetVIPs returns ErrUnimplemented off Linux.
func (f *Fence) SetVIPs(vips []netip.Addr) error { return ErrUnimplemented }

// Close does nothing off Linux.
func (f *Fence) Close() error { return nil }
