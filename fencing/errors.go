package fencing

import (
	"errors"
	"fmt"
)

var (
	// ErrBadEvent is returned (wrapped) by Monitor.Step for an event that
	// lacks a field it needs.
	ErrBadEvent = errors.New("bad event")
	// ErrFenceFailed is returned (wrapped) when every attempt of a fence
	// hook failed.
	ErrFenceFailed = errors.New("fence failed")
	// ErrBadConfig is returned (wrapped) for an unusable hook configuration.
	ErrBadConfig = errors.New("bad configuration")
)

// Error is an error of this package: Op names the operation ("fence d2
// VI_1 epoch 42", "monitor step"), Err the cause.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("fencing: %s: %v", e.Op, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
