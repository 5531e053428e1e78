// Package sinktest holds the notification receivers of the tests: an SMTP
// server and a webhook receiver that record what they got, on any
// listener (loopback, or one opened inside a lab namespace).
package sinktest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mail is what the SMTP server received in one session.
type Mail struct {
	Client string // the client's IP address
	Helo   string
	From   string
	Rcpt   []string
	Data   string
}

// SMTPServer is a minimal SMTP server (RFC 5321 subset: HELO, MAIL, RCPT,
// DATA, QUIT; EHLO refused, so the client falls back to HELO as
// keepalived speaks it). Every mail accepted arrives on Got.
type SMTPServer struct {
	Got  chan Mail
	ln   net.Listener
	wg   sync.WaitGroup
	mute bool // accept and never answer
}

// NewSMTPServer serves SMTP on ln (nil: a new loopback listener) until the
// test ends. A mute server accepts connections and never answers.
func NewSMTPServer(t testing.TB, ln net.Listener, mute bool) *SMTPServer {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	s := &SMTPServer{ln: ln, Got: make(chan Mail, 256), mute: mute}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Addr is the server's host:port.
func (s *SMTPServer) Addr() string { return s.ln.Addr().String() }

func (s *SMTPServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if s.mute {
				bufio.NewReader(c).ReadString(0)
				return
			}
			s.session(c)
		}()
	}
}

func (s *SMTPServer) session(c net.Conn) {
	r := bufio.NewReader(c)
	say := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	say("220 test.invalid SMTP ready")
	client, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	m := Mail{Client: client}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO":
			say("502 command not implemented")
		case verb == "HELO":
			m.Helo = strings.TrimSpace(line[4:])
			say("250 test.invalid")
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"):
			m.From = line[len("MAIL FROM:"):]
			say("250 OK")
		case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			m.Rcpt = append(m.Rcpt, line[len("RCPT TO:"):])
			say("250 OK")
		case verb == "DATA":
			say("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.Data = b.String()
			say("250 OK queued")
			select {
			case s.Got <- m:
			default: // nobody reads any more: drop
			}
			m = Mail{Client: client, Helo: m.Helo}
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("502 command not implemented")
		}
	}
}
