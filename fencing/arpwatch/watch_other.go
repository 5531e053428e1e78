//go:build !linux

package arpwatch

import (
	"context"
	"fmt"
)

// Watcher is Linux-only; elsewhere Open fails with ErrUnsupported.
type Watcher struct{}

// Open returns ErrUnsupported.
func Open(cfg Config) (*Watcher, error) {
	return nil, fmt.Errorf("arpwatch: open %s: %w", cfg.Interface, ErrUnsupported)
}

// Run returns ErrUnsupported.
func (w *Watcher) Run(ctx context.Context) error { return ErrUnsupported }

// Close does nothing.
func (w *Watcher) Close() error { return nil }
