//go:build !linux

package notify

import (
	"errors"
	"testing"
)

func TestOpenFIFOUnimplemented(t *testing.T) {
	if _, err := OpenFIFO(FIFOConfig{Path: "x"}); !errors.Is(err, ErrUnimplemented) {
		t.Fatalf("err = %v, want ErrUnimplemented", err)
	}
}
