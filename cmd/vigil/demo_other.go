//go:build !linux

package main

import (
	"errors"
	"io"
)

// The demo builds its lab out of Linux network namespaces.
func runDemo(keep bool, stdout io.Writer) error {
	return errors.New("vigil demo needs Linux: it builds its lab out of network namespaces")
}

func removeDemo() int { return 0 }
