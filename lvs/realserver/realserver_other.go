//go:build !linux

package realserver

import "net/netip"

// Up is not available off Linux.
func Up(vips []netip.Addr) (Result, error) { return Result{}, ErrUnimplemented }

// Down is not available off Linux.
func Down(vips []netip.Addr) (Result, error) { return Result{}, ErrUnimplemented }
