package health

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// markControl returns a net.Dialer Control that sets SO_MARK (the checker's
// fwmark) on the probe's socket before it connects.
func markControl(mark uint32) (func(network, address string, c syscall.RawConn) error, error) {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		}); err != nil {
			return err
		}
		return serr
	}, nil
}
