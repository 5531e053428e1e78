package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	c := &command{
		name:    "version",
		summary: "print the version of vigil and of the Go toolchain that built it",
		usage:   "Usage: vigil version\n\nPrints vigil's version, the VCS revision it was built from and the Go version.\n",
	}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		rev := "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					rev = s.Value
				}
			}
		}
		fmt.Fprintf(stdout, "vigil %s (revision %s, %s)\n", version, rev, runtime.Version())
		return nil
	}
	register(c)
}
