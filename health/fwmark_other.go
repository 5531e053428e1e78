//go:build !linux

package health

import (
	"errors"
	"syscall"
)

// markControl is unimplemented off Linux (SO_MARK is Linux's).
func markControl(mark uint32) (func(network, address string, c syscall.RawConn) error, error) {
	return nil, errors.New("fwmark is implemented on Linux only")
}
