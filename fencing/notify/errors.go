package notify

import (
	"errors"
	"fmt"
)

var (
	// ErrUnimplemented is returned by OpenFIFO off Linux.
	ErrUnimplemented = errors.New("notify: not implemented on this system")
	// ErrBadConfig is returned (wrapped) by the sink constructors.
	ErrBadConfig = errors.New("bad configuration")
	// ErrPermanent marks a delivery that retrying cannot fix (a webhook
	// answering 4xx).
	ErrPermanent = errors.New("permanent failure")
)

// Error is a sink's error: Op names the sink and operation ("smtp send to
// 127.0.0.1:25", "webhook post"), Err the cause.
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("notify: %s: %v", e.Op, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
