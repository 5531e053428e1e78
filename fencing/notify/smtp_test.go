package notify

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"vigil/fencing"
	"vigil/test/sinktest"
)

// newSMTPServer serves SMTP on loopback until the test ends.
func newSMTPServer(t *testing.T, mute bool) *sinktest.SMTPServer {
	return sinktest.NewSMTPServer(t, nil, mute)
}

func TestSMTPDeliversAlert(t *testing.T) {
	srv := newSMTPServer(t, false)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	s, err := NewSMTP(SMTPConfig{Server: srv.Addr(), From: "vigil@lb1.example", To: []string{"ops@example.com", "Oncall <oncall@example.com>"},
		RouterID: "lb1", ConnectTimeout: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a := fencing.Alert{Kind: fencing.KindRogueAdvert, Severity: fencing.SeverityCritical, Since: now, Instance: "VI_1", Peer: "10.0.0.99",
		Epoch: 42, Count: 1, Message: "VRRP advert for VRID 51 from 10.0.0.99", Evidence: map[string]string{"vrid": "51", "priority": "254", "dot": ".leading dot"}}
	if err := s.Send(context.Background(), Notification{Time: now, Alert: &a}); err != nil {
		t.Fatal(err)
	}
	var m sinktest.Mail
	select {
	case m = <-srv.Got:
	case <-time.After(10 * time.Second):
		t.Fatal("no mail")
	}
	if m.Helo != "localhost" || m.From != "<vigil@lb1.example>" || strings.Join(m.Rcpt, ",") != "<ops@example.com>,<oncall@example.com>" {
		t.Fatalf("envelope %+v", m)
	}
	want := "Date: Sat, 21 Nov 2026 12:00:00 +0000\r\n" +
		"From: vigil@lb1.example\r\n" +
		"Subject: [lb1] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RAISED\r\n" +
		"X-Mailer: vigil\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"To: ops@example.com,\r\n Oncall <oncall@example.com>\r\n" +
		"\r\n" +
		"=> VRRP advert for VRID 51 from 10.0.0.99 <=\r\n\r\nseverity: critical\r\nsince: 2026-11-21T12:00:00Z\r\nepoch: 42\r\nobservations: 1\r\n" +
		"dot: .leading dot\r\n" +
		"priority: 254\r\nvrid: 51\r\n"
	if m.Data != want {
		t.Fatalf("data\n%q\nwant\n%q", m.Data, want)
	}
}

func TestSMTPServerDownOrMute(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, _ := NewSMTP(SMTPConfig{Server: addr, To: []string{"ops@example.com"}, ConnectTimeout: 2 * time.Second})
	err = s.Send(context.Background(), Notification{Transition: &Transition{Name: "VI_1", State: StateMaster}})
	var ne *Error
	if !errors.As(err, &ne) || !strings.HasPrefix(ne.Op, "smtp send to 127.0.0.1:") {
		t.Fatalf("server down: %v", err)
	}

	mute := newSMTPServer(t, true)
	s, _ = NewSMTP(SMTPConfig{Server: mute.Addr(), To: []string{"ops@example.com"}, ConnectTimeout: 200 * time.Millisecond})
	err = s.Send(context.Background(), Notification{Transition: &Transition{Name: "VI_1", State: StateMaster}})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("mute server: %v", err)
	}
}

func TestNewSMTPValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg  SMTPConfig
		want string
	}{
		{SMTPConfig{To: []string{"a@b"}}, "smtp_server is empty"},
		{SMTPConfig{Server: "127.0.0.1"}, "notification_email has no address"},
		{SMTPConfig{Server: "127.0.0.1", To: []string{"not an address"}}, `notification_email "not an address"`},
		{SMTPConfig{Server: "127.0.0.1", To: []string{"a@b"}, From: "@@"}, `notification_email_from "@@"`},
	} {
		_, err := NewSMTP(tc.cfg)
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSMTP(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	s, err := NewSMTP(SMTPConfig{Server: "127.0.0.1", To: []string{"a@b"}})
	if err != nil || s.addr != "127.0.0.1:25" {
		t.Fatalf("default port: %v %v", s, err)
	}
}
