//go:build !linux

package arpwatch

import (
	"errors"
	"testing"
)

func TestOpenUnsupported(t *testing.T) {
	if _, err := Open(Config{Interface: "eth0"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open = %v, want ErrUnsupported", err)
	}
}
