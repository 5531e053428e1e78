//go:build !linux

package realserver_test

import (
	"errors"
	"testing"

	"vigil/lvs/realserver"
)

func TestUnimplemented(t *testing.T) {
	if _, err := realserver.Up(nil); !errors.Is(err, realserver.ErrUnimplemented) {
		t.Fatalf("Up off Linux: %v", err)
	}
}
