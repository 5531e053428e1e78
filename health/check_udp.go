package health

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

type udpChecker struct {
	dialer       *net.Dialer
	addr         string
	payload      []byte
	requireReply bool
	pattern      []byte // expected reply prefix
	mask         []byte // 0xf0/0x0f/0xff per byte: which nibbles of pattern count
	minLen       int
	maxLen       int
}

func newUDPChecker(spec CheckSpec) (*udpChecker, error) {
	c := &udpChecker{dialer: newDialer(&spec, "udp"), addr: spec.addr().String(),
		payload: spec.UDPPayload, requireReply: spec.RequireReply || spec.ReplyPattern != "",
		minLen: spec.MinReplyLen, maxLen: spec.MaxReplyLen}
	if c.maxLen == 0 {
		c.maxLen = 255
	}
	if c.minLen < 0 || c.minLen > c.maxLen {
		return nil, specErr(KindUDP, "min_reply_length", "%d is not within 0..max_reply_length (%d)", c.minLen, c.maxLen)
	}
	if spec.ReplyPattern != "" {
		p, m, err := parseHex(spec.ReplyPattern, true)
		if err != nil {
			return nil, &SpecError{Kind: KindUDP, Field: "require_reply", Err: fmt.Errorf("%w: %w", ErrBadSpec, err)}
		}
		c.pattern, c.mask = p, m
	}
	return c, nil
}

// ParseHex parses keepalived's free-format HEX_STR (UDP_CHECK payload):
// blank-separated groups of hex digits, each group read two digits to a
// byte from the left, an odd last digit making a byte of its own
// ("Ab12f 3" is AB 12 0F 03).
func ParseHex(s string) ([]byte, error) {
	b, _, err := parseHex(s, false)
	return b, err
}

func parseHex(s string, wild bool) (val, mask []byte, err error) {
	nib := func(r byte) (v, m byte, ok bool) {
		switch {
		case r >= '0' && r <= '9':
			return r - '0', 0xf, true
		case r >= 'a' && r <= 'f':
			return r - 'a' + 10, 0xf, true
		case r >= 'A' && r <= 'F':
			return r - 'A' + 10, 0xf, true
		case wild && (r == 'x' || r == 'X'):
			return 0, 0, true
		}
		return 0, 0, false
	}
	for _, g := range strings.Fields(s) {
		for i := 0; i < len(g); i += 2 {
			hv, hm, ok := nib(g[i])
			if !ok {
				return nil, nil, fmt.Errorf("%q: %q is not a hex digit", s, g[i])
			}
			if i+1 == len(g) { // odd trailing digit: its own byte
				val, mask = append(val, hv), append(mask, hm)
				break
			}
			lv, lm, ok := nib(g[i+1])
			if !ok {
				return nil, nil, fmt.Errorf("%q: %q is not a hex digit", s, g[i+1])
			}
			val, mask = append(val, hv<<4|lv), append(mask, hm<<4|lm)
		}
	}
	if len(val) == 0 {
		return nil, nil, fmt.Errorf("%q: no hex digits", s)
	}
	return val, mask, nil
}

// Check sends the payload and waits until the probe's deadline. Without
// require_reply the server is up unless an ICMP error (port or host
// unreachable) comes back, as in keepalived; with it, a reply of the right
// length whose prefix matches the pattern must arrive.
func (c *udpChecker) Check(ctx context.Context) Result {
	conn, err := c.dialer.DialContext(ctx, "udp", c.addr)
	if err != nil {
		return ioErr(ctx, "connect "+c.addr, err)
	}
	defer conn.Close()
	stop := bindCtx(ctx, conn)
	defer stop()
	payload := c.payload
	if len(payload) == 0 {
		payload = make([]byte, 8)
		_, _ = rand.Read(payload)
	}
	if _, err := conn.Write(payload); err != nil {
		return ioErr(ctx, "send", err)
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
			return down("%s: %v", c.addr, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil {
			if c.requireReply {
				return down("no reply from %s before the deadline", c.addr)
			}
			return up("no ICMP error")
		}
		return down("read: %v", err)
	}
	if !c.requireReply {
		return up("reply")
	}
	if n < c.minLen || n > c.maxLen {
		return down("reply of %d bytes, want %d..%d", n, c.minLen, c.maxLen)
	}
	for i := 0; i < len(c.pattern) && i < n; i++ {
		if buf[i]&c.mask[i] != c.pattern[i]&c.mask[i] {
			return down("reply byte %d is %#02x, want %#02x", i, buf[i], c.pattern[i])
		}
	}
	return up("reply matches")
}
