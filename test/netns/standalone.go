package netns

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Standalone is the T of a program that builds a lab outside a test
// (vigil demo, the failover benchmark): Fatalf and Skip panic with a
// Failure, which Run turns back into an error, and Close runs the
// cleanups in reverse order.
type Standalone struct{ cleanups []func() }

// Failure is what Standalone's Fatalf and Skip panic with.
type Failure struct{ Msg string }

func (*Standalone) Helper()                           {}
func (*Standalone) Logf(string, ...any)               {}
func (*Standalone) Fatalf(format string, args ...any) { panic(Failure{fmt.Sprintf(format, args...)}) }
func (*Standalone) Skip(args ...any)                  { panic(Failure{fmt.Sprint(args...)}) }

// Cleanup registers f to run at Close.
func (s *Standalone) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

// Close runs the registered cleanups, the last registered first.
func (s *Standalone) Close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
}

// Run calls f and returns the message of a Failure it panicked with as an
// error; any other panic goes on.
func (s *Standalone) Run(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fail, ok := r.(Failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", fail.Msg)
		}
	}()
	f()
	return nil
}

// ReadLine opens a TCP connection to addr from inside the host and returns
// the first line the server sends, trimmed: how tests and the demo ask
// "which director answered?". Connecting and reading each get timeout.
func (h *Host) ReadLine(addr string, timeout time.Duration) (string, error) {
	var line string
	err := h.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		line, err = bufio.NewReader(c).ReadString('\n')
		if line != "" {
			err = nil
		}
		line = strings.TrimSpace(line)
		return err
	})
	return line, err
}

// Get sends GET path to addr over a connection dialled inside the host and
// returns the answer's body; an answer other than 200 is an error. (The
// request is written by hand: net/http would dial from another goroutine,
// outside the namespace.) The whole exchange gets timeout.
func (h *Host) Get(addr, path string, timeout time.Duration) (string, error) {
	var body string
	err := h.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s%s: %s", addr, path, resp.Status)
		}
		return err
	})
	return body, err
}
