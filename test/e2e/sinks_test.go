package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/fencing/notify"
	"vigil/test/sinktest"
)

// sinkAddr is the sink host on the LAN: an SMTP server on port 2525 and a
// webhook receiver on port 8000.
const sinkAddr = "10.99.0.50"

// sinks are the notification receivers of a test: the sink host's SMTP
// server and webhook receiver, and a reader of the notify_fifo that the
// three directors share (one file system).
type sinks struct {
	fifo  string
	lines chan string // read from the FIFO
	got   []string    // lines taken from lines so far
	hook  *sinktest.Hook
	smtp  *sinktest.SMTPServer
	mails []sinktest.Mail
}

// newSinks makes the FIFO and starts reading it.
func newSinks(t *testing.T) *sinks {
	s := &sinks{fifo: filepath.Join(t.TempDir(), "notify.fifo"), lines: make(chan string, 4096)}
	if err := syscall.Mkfifo(s.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-write: the open does not wait for a writer, and the read ends
	// when the cleanup closes it.
	f, err := os.OpenFile(s.fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { f.Close(); <-done })
	return s
}

// clusterConf is the webhook block of the cluster configuration.
func (s *sinks) clusterConf(timeout time.Duration, retry int) string {
	return fmt.Sprintf("    webhook {\n        url http://%s:8000/vigil\n        timeout %v\n        retry %d\n    }\n", sinkAddr, timeout, retry)
}

// globalDefs sends alerts and transitions by e-mail and to the FIFO.
func (s *sinks) globalDefs() string {
	return fmt.Sprintf(`global_defs {
    notification_email {
        ops@example.com
    }
    notification_email_from vigil@e2e.example
    smtp_server %s 2525
    smtp_alert
    notify_fifo %s
}
`, sinkAddr, s.fifo)
}

// attach puts the sink host on c's LAN and starts its servers; the webhook
// receiver answers when up, and holds every request when not.
func (s *sinks) attach(c *cluster3, up bool) {
	h := c.lab.Host("sink")
	h.Link(c.lan, "eth0", sinkAddr+"/24")
	var smtpLn, hookLn net.Listener
	if err := h.Do(func() (err error) {
		if smtpLn, err = net.Listen("tcp", sinkAddr+":2525"); err != nil {
			return err
		}
		hookLn, err = net.Listen("tcp", sinkAddr+":8000")
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	s.smtp = sinktest.NewSMTPServer(c.t, smtpLn, false)
	s.hook = sinktest.NewHook(c.t, hookLn, up)
}

// waitMail waits for an e-mail from client whose data has the line subject.
func (s *sinks) waitMail(t *testing.T, client, subject string) sinktest.Mail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for _, m := range s.mails {
			if m.Client == client && strings.Contains(m.Data, subject) {
				return m
			}
		}
		select {
		case m := <-s.smtp.Got:
			s.mails = append(s.mails, m)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no e-mail from %s with %q within 10s (%d mails)", client, strings.TrimSpace(subject), len(s.mails))
	return sinktest.Mail{}
}

// waitFIFO waits until the FIFO carried line n times.
func (s *sinks) waitFIFO(t *testing.T, line string, n int) {
	t.Helper()
	count := func() int {
		k := 0
		for _, l := range s.got {
			if l == line {
				k++
			}
		}
		return k
	}
	for deadline := time.Now().Add(10 * time.Second); count() < n && time.Now().Before(deadline); {
		select {
		case l := <-s.lines:
			s.got = append(s.got, l)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if k := count(); k < n {
		t.Fatalf("the FIFO carried %q %d times, want %d; lines:\n%s", line, k, n, strings.Join(s.got, "\n"))
	}
}

// waitHook waits up to within for a webhook POST from client, answered,
// whose payload ok accepts.
func (s *sinks) waitHook(t *testing.T, client string, within time.Duration, ok func(notify.Payload) bool) notify.Payload {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, r := range s.hook.Requests() {
			var p notify.Payload
			if r.From == client && r.Answered && json.Unmarshal(r.Body, &p) == nil && ok(p) {
				return p
			}
		}
	}
	t.Fatalf("no matching webhook POST from %s within %v; got %d requests", client, within, len(s.hook.Requests()))
	return notify.Payload{}
}
