//go:build !linux

package nft

import (
	"context"
	"net/netip"

	"vigil/lvs"
)

// Datapath is the nftables datapath; it exists only on Linux.
type Datapath struct{}

// New returns lvs.ErrUnimplemented off Linux.
func New(opt Options) (*Datapath, error) { return nil, lvs.ErrUnimplemented }

// Apply returns lvs.ErrUnimplemented.
func (*Datapath) Apply(context.Context, lvs.State) error { return lvs.ErrUnimplemented }

// Read returns lvs.ErrUnimplemented.
func (*Datapath) Read(context.Context) (lvs.State, error) { return lvs.State{}, lvs.ErrUnimplemented }

// Close does nothing.
func (*Datapath) Close() error { return nil }

// Validate checks what the Linux datapath would accept.
func (*Datapath) Validate(st lvs.State) error { return lvs.ErrUnimplemented }

// ForgetFlows returns lvs.ErrUnimplemented.
func (*Datapath) ForgetFlows([]netip.Addr) (uint, error) { return 0, lvs.ErrUnimplemented }
