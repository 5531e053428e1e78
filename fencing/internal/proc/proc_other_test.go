//go:build !linux

package proc

import (
	"context"
	"errors"
	"testing"
)

func TestRunUnimplemented(t *testing.T) {
	if _, err := Run(context.Background(), Spec{Argv: []string{"true"}}); !errors.Is(err, ErrUnimplemented) {
		t.Fatalf("err = %v, want ErrUnimplemented", err)
	}
	if err := SetSubreaper(); !errors.Is(err, ErrUnimplemented) {
		t.Fatalf("err = %v, want ErrUnimplemented", err)
	}
}
