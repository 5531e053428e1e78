package notify

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"sort"
	"strings"
	"time"
)

// SMTPConfig is keepalived's global_defs e-mail settings.
type SMTPConfig struct {
	// Server is smtp_server: host or host:port (default port 25).
	Server string
	// From is notification_email_from (default "vigil@<hostname>").
	From string
	// To is the notification_email list.
	To []string
	// HeloName is smtp_helo_name (default "localhost", as keepalived).
	HeloName string
	// ConnectTimeout is smtp_connect_timeout (default 30s); it bounds the
	// connection and the whole conversation.
	ConnectTimeout time.Duration
	// RouterID is router_id, the "[router_id]" of the subjects (default the
	// host name).
	RouterID string
	// Now stamps the Date header (default time.Now).
	Now func() time.Time
}

// SMTP mails notifications, one message per notification, with subjects
// and bodies in keepalived's style (see Message).
type SMTP struct {
	cfg  SMTPConfig
	addr string
	from string
	to   []string
}

// NewSMTP checks cfg: a server, at least one recipient, parseable
// addresses.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	bad := func(format string, args ...any) error {
		return &Error{Op: "smtp config", Err: fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)}
	}
	if cfg.Server == "" {
		return nil, bad("smtp_server is empty")
	}
	addr := cfg.Server
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "25")
	}
	if len(cfg.To) == 0 {
		return nil, bad("notification_email has no address")
	}
	host, _ := os.Hostname()
	if cfg.From == "" {
		cfg.From = "vigil@" + host
	}
	if cfg.RouterID == "" {
		cfg.RouterID = host
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, bad("notification_email_from %q: %v", cfg.From, err)
	}
	s := &SMTP{cfg: cfg, addr: addr, from: from.Address}
	for _, t := range cfg.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, bad("notification_email %q: %v", t, err)
		}
		s.to = append(s.to, a.Address)
	}
	return s, nil
}

// Name is "smtp".
func (s *SMTP) Name() string { return "smtp" }

// Send delivers n as one message.
func (s *SMTP) Send(ctx context.Context, n Notification) error {
	op := "smtp send to " + s.addr
	deadline := time.Now().Add(s.cfg.ConnectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", s.addr)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return &Error{Op: op, Err: err}
	}
	// Cancelling ctx aborts the conversation.
	stop := context.AfterFunc(dctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	host, _, _ := net.SplitHostPort(s.addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("greeting: %w", err)}
	}
	defer c.Close()
	steps := []struct {
		what string
		do   func() error
	}{
		{"HELO", func() error { return c.Hello(s.cfg.HeloName) }},
		{"MAIL FROM", func() error { return c.Mail(s.from) }},
	}
	for _, to := range s.to {
		steps = append(steps, struct {
			what string
			do   func() error
		}{"RCPT TO " + to, func() error { return c.Rcpt(to) }})
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return &Error{Op: op, Err: fmt.Errorf("%s: %w", st.what, err)}
		}
	}
	w, err := c.Data()
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("DATA: %w", err)}
	}
	if _, err := w.Write(s.message(n)); err != nil {
		return &Error{Op: op, Err: fmt.Errorf("DATA: %w", err)}
	}
	if err := w.Close(); err != nil {
		return &Error{Op: op, Err: fmt.Errorf("end of DATA: %w", err)}
	}
	if err := c.Quit(); err != nil {
		return &Error{Op: op, Err: fmt.Errorf("QUIT: %w", err)}
	}
	return nil
}

// message renders the RFC 5322 message (keepalived smtp.c body_cmd:
// Date, From, Subject, X-Mailer, To, then the body).
func (s *SMTP) message(n Notification) []byte {
	subject, body := Message(s.cfg.RouterID, n)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Date: %s\r\n", s.cfg.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\r\n", s.cfg.From)
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	b.WriteString("X-Mailer: vigil\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
	fmt.Fprintf(&b, "To: %s\r\n\r\n", strings.Join(s.cfg.To, ",\r\n "))
	for _, l := range strings.Split(body, "\n") {
		b.WriteString(l + "\r\n")
	}
	return b.Bytes()
}

// Message returns the subject and body of n, in keepalived's style:
//
//	[router_id] VRRP Instance VI_1 - Entering MASTER state
//	=> VRRP Instance is now owning VRRP VIPs <=
//
// and, for alerts,
//
//	[router_id] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RAISED
//	=> VRRP advert for VRID 51 ... <=
//	(then severity, times, epoch and the evidence, one per line)
func Message(routerID string, n Notification) (subject, body string) {
	switch {
	case n.Transition != nil:
		t := n.Transition
		what, whose := "Instance", "VRRP Instance is"
		if t.Group {
			what, whose = "Group", "All VRRP group instances are"
		}
		var head, line string
		switch t.State {
		case StateMaster:
			head = "Entering MASTER state"
			line = "=> VRRP Instance is now owning VRRP VIPs <="
			if t.Group {
				line = "=> All VRRP group instances are now in MASTER state <="
			}
		case StateBackup, StateFault:
			head = "Entering " + t.State.String() + " state"
			line = "=> VRRP Instance is no longer owning VRRP VIPs <="
			if t.Group {
				line = "=> All VRRP group instances are now in " + t.State.String() + " state <="
			}
		case StateStop:
			head, line = "Stopping", "=> "+whose+" stopping <="
			if t.Group {
				line = "=> All VRRP group instances are now stopping <="
			}
		default:
			head, line = "Entering "+t.State.String()+" state", "=> "+whose+" now "+t.State.String()+" <="
		}
		subject = fmt.Sprintf("[%s] VRRP %s %s - %s", routerID, what, t.Name, head)
		body = line
		if t.Epoch != 0 {
			body += fmt.Sprintf("\n\nepoch: %d", t.Epoch)
		}
		return subject, body
	case n.Alert != nil:
		a := n.Alert
		state := "RAISED"
		if a.Resolved {
			state = "RESOLVED"
		}
		subject = fmt.Sprintf("[%s] Split-brain alert %s - %s", routerID, a.Subject(), state)
		var b strings.Builder
		fmt.Fprintf(&b, "=> %s <=\n\nseverity: %s\nsince: %s\n", a.Message, a.Severity, a.Since.UTC().Format(time.RFC3339Nano))
		if a.Resolved {
			fmt.Fprintf(&b, "resolved: %s\n", a.ResolvedAt.UTC().Format(time.RFC3339Nano))
		}
		if a.Epoch != 0 {
			fmt.Fprintf(&b, "epoch: %d\n", a.Epoch)
		}
		fmt.Fprintf(&b, "observations: %d\n", a.Count)
		keys := make([]string, 0, len(a.Evidence))
		for k := range a.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, a.Evidence[k])
		}
		return subject, strings.TrimSuffix(b.String(), "\n")
	}
	return fmt.Sprintf("[%s] empty notification", routerID), ""
}
