//go:build !linux

package proc

import "context"

// SetSubreaper is a no-op off Linux.
func SetSubreaper() error { return ErrUnimplemented }

// Run returns ErrUnimplemented off Linux: process groups, waitid and
// subreapers are what make the contract in the package doc hold.
func Run(ctx context.Context, s Spec) (Result, error) {
	return Result{}, &Error{Op: "run", Err: ErrUnimplemented}
}
