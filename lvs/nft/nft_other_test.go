//go:build !linux

package nft

import (
	"errors"
	"testing"

	"vigil/lvs"
)

func TestUnimplemented(t *testing.T) {
	if _, err := New(Options{Seed: 1}); !errors.Is(err, lvs.ErrUnimplemented) {
		t.Errorf("New = %v, want ErrUnimplemented", err)
	}
}
