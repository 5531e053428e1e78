//go:build !linux

package nftfence_test

import (
	"errors"
	"testing"

	"vigil/fencing/nftfence"
)

func TestUnimplemented(t *testing.T) {
	if _, err := nftfence.New(nil); !errors.Is(err, nftfence.ErrUnimplemented) {
		t.Fatalf("New off Linux: %v, want ErrUnimplemented", err)
	}
}
