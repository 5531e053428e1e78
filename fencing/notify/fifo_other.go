//go:build !linux

package notify

// OpenFIFO returns ErrUnimplemented off Linux (opening a FIFO read-write
// is Linux behaviour, undefined by POSIX).
func OpenFIFO(cfg FIFOConfig) (*FIFO, error) { return nil, ErrUnimplemented }
