//go:build linux

package notify

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// OpenFIFO opens (and with Create, makes) the named pipe and starts its
// writer.
func OpenFIFO(cfg FIFOConfig) (*FIFO, error) {
	if cfg.Path == "" {
		return nil, errors.New("notify: fifo: empty path")
	}
	st, err := os.Stat(cfg.Path)
	switch {
	case errors.Is(err, os.ErrNotExist) && cfg.Create:
		// Several directors on one host may share the path: one of them
		// creating it first is no error.
		if err := syscall.Mkfifo(cfg.Path, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("notify: fifo: create %s: %w", cfg.Path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("notify: fifo: %w", err)
	case st.Mode()&os.ModeNamedPipe == 0:
		return nil, fmt.Errorf("notify: fifo: %s is not a named pipe (mode %v)", cfg.Path, st.Mode())
	}
	// Read-write: the open never blocks for a reader and writes never fail
	// with EPIPE when the reader goes away (Linux fifo(7)). The runtime
	// poller makes SetWriteDeadline work on the pipe.
	f, err := os.OpenFile(cfg.Path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("notify: fifo: open %s: %w", cfg.Path, err)
	}
	return newFIFO(cfg, f), nil
}
