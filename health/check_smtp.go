package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
)

type smtpChecker struct {
	dialer *net.Dialer
	addr   string
	helo   string
}

func newSMTPChecker(spec CheckSpec) (*smtpChecker, error) {
	c := &smtpChecker{dialer: newDialer(&spec, "tcp"), addr: spec.addr().String(), helo: spec.HeloName}
	if c.helo == "" {
		c.helo = DefaultHeloName
	}
	for _, r := range c.helo {
		if r <= ' ' || r == 0x7f {
			return nil, specErr(KindSMTP, "helo_name", "%q holds a blank or control character", c.helo)
		}
	}
	return c, nil
}

// Check runs keepalived's SMTP dialogue: read the 220 greeting, HELO →
// 250, QUIT → 221. Multi-line replies (250-...) are read whole.
func (c *smtpChecker) Check(ctx context.Context) Result {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return ioErr(ctx, "connect "+c.addr, err)
	}
	defer conn.Close()
	stop := bindCtx(ctx, conn)
	defer stop()
	tp := textproto.NewReader(bufio.NewReader(conn))
	if _, _, err := tp.ReadResponse(220); err != nil {
		return ioErr(ctx, "greeting", err)
	}
	if _, err := io.WriteString(conn, fmt.Sprintf("HELO %s\r\n", c.helo)); err != nil {
		return ioErr(ctx, "HELO", err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		return ioErr(ctx, "HELO", err)
	}
	if _, err := io.WriteString(conn, "QUIT\r\n"); err != nil {
		return ioErr(ctx, "QUIT", err)
	}
	if _, _, err := tp.ReadResponse(221); err != nil {
		return ioErr(ctx, "QUIT", err)
	}
	return up("smtp ok")
}
