//go:build !linux

package ipvs

import (
	"errors"
	"testing"

	"vigil/lvs"
)

func TestUnimplemented(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, lvs.ErrUnimplemented) {
		t.Errorf("New = %v, want ErrUnimplemented", err)
	}
}
