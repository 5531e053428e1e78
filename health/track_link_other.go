//go:build !linux

package health

import (
	"context"
	"errors"
)

// errLinkUnimplemented is what LinkTracker returns off Linux.
var errLinkUnimplemented = errors.New("health: track_interface is implemented on Linux only")

// LinkTracker follows interface state; off Linux it is unimplemented.
type LinkTracker struct{ spec LinkTrackerSpec }

// NewLinkTracker validates the spec.
func NewLinkTracker(spec LinkTrackerSpec) (*LinkTracker, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return &LinkTracker{spec: spec}, nil
}

// Run returns an error at once off Linux.
func (t *LinkTracker) Run(ctx context.Context, onChange func(TrackStatus)) error {
	return errLinkUnimplemented
}
