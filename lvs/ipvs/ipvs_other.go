//go:build !linux

package ipvs

import (
	"context"

	"vigil/lvs"
)

// Datapath is the IPVS datapath; it exists only on Linux.
type Datapath struct{}

// New returns lvs.ErrUnimplemented off Linux.
func New(opt Options) (*Datapath, error) { return nil, lvs.ErrUnimplemented }

// CheckKernel returns lvs.ErrUnimplemented off Linux.
func CheckKernel(nsPath string) error { return lvs.ErrUnimplemented }

// Apply returns lvs.ErrUnimplemented.
func (*Datapath) Apply(context.Context, lvs.State) error { return lvs.ErrUnimplemented }

// Read returns lvs.ErrUnimplemented.
func (*Datapath) Read(context.Context) (lvs.State, error) { return lvs.State{}, lvs.ErrUnimplemented }

// Close does nothing.
func (*Datapath) Close() error { return nil }
