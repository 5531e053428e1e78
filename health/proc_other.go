//go:build !linux

package health

import (
	"context"
	"errors"
)

// errUnimplemented is what script execution returns off Linux.
var errUnimplemented = errors.New("health: running scripts is implemented on Linux only")

// Run is unimplemented off Linux: process-group reaping relies on waitid
// with WNOWAIT.
func (s *Script) Run(ctx context.Context) ScriptStatus {
	return ScriptStatus{Exit: -1, Err: errUnimplemented}
}

func unsafePath(path string) string { return "not checkable on this OS" }
