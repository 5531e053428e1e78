//go:build linux

package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/fencing"
)

// The whole chain: the Monitor sees a rogue advert, its Raise action and a
// state transition go through one Dispatcher to a hanging sink, the notify
// scripts, the FIFO, the SMTP server and the webhook. The hanging sink
// delays none of the others.
func TestFanOutFromMonitor(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "scripts.log")
	master := writeScript(t, dir, "master", "echo \"master $*\" >> "+log+"\n")
	notifier := NewNotifier(NotifierConfig{Instances: map[string]Scripts{"VI_1": {Master: &Script{Argv: []string{master}}}}, Logger: testLogger(t)})

	fifoPath := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifoPath, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo, err := OpenFIFO(FIFOConfig{Path: fifoPath})
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(fifoPath, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fifoLines := bufio.NewScanner(r)

	smtpSrv := newSMTPServer(t, false)
	mailer, err := NewSMTP(SMTPConfig{Server: smtpSrv.Addr(), To: []string{"ops@example.com"}, RouterID: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	recv := &hookReceiver{failures: 1, status: 500}
	hookSrv := httptest.NewServer(recv)
	defer hookSrv.Close()
	hook, err := NewWebhook(WebhookConfig{URL: hookSrv.URL, RouterID: "lb1", Sleep: (&recordingSleep{}).sleep})
	if err != nil {
		t.Fatal(err)
	}
	hang := &hangSink{entered: make(chan struct{}, 1)}
	d := NewDispatcher(DispatcherConfig{Logger: testLogger(t)}, hang, notifier, fifo, mailer, hook)

	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	m := fencing.NewMonitor(fencing.MonitorConfig{Node: "d1"})
	steps := []fencing.Event{
		fencing.InstanceConfigured{Name: "VI_1", VRID: 51, VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}},
		fencing.HolderChanged{At: now, Instance: "VI_1", Holder: fencing.Holder{Node: "d1", Addr: netip.MustParseAddr("10.0.0.11"), Epoch: 42}},
		fencing.AdvertObservation{At: now.Add(time.Second), VRID: 51, Src: netip.MustParseAddr("10.0.0.99"), Priority: 254},
	}
	d.Publish(Notification{Time: now, Transition: &Transition{Name: "VI_1", State: StateMaster, Priority: 100, Epoch: 42}})
	for _, e := range steps {
		if err := m.Step(e); err != nil {
			t.Fatal(err)
		}
		for _, a := range m.Ready() {
			a := a.Alert
			d.Publish(Notification{Time: a.Since, Alert: &a})
		}
		m.Advance()
	}

	// FIFO: the keepalived line.
	if !fifoLines.Scan() || fifoLines.Text() != `INSTANCE "VI_1" MASTER 100` {
		t.Fatalf("fifo line %q", fifoLines.Text())
	}
	// SMTP: the transition, then the alert.
	var subjects []string
	for len(subjects) < 2 {
		select {
		case got := <-smtpSrv.Got:
			for _, l := range strings.Split(got.Data, "\r\n") {
				if strings.HasPrefix(l, "Subject: ") {
					subjects = append(subjects, strings.TrimPrefix(l, "Subject: "))
				}
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("mails so far: %q", subjects)
		}
	}
	if subjects[0] != "[lb1] VRRP Instance VI_1 - Entering MASTER state" ||
		subjects[1] != "[lb1] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RAISED" {
		t.Fatalf("subjects %q", subjects)
	}
	// Webhook and scripts: drain them (the hanging sink's queue is left
	// to Close's deadline).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.Close(ctx)
	if err := notifier.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	fifo.Close()
	if len(recv.bodies) != 2 {
		t.Fatalf("webhook accepted %d bodies, want 2", len(recv.bodies))
	}
	var p Payload
	if err := json.Unmarshal(recv.bodies[1], &p); err != nil || p.Alert == nil || p.Alert.Evidence["priority"] != "254" || p.Alert.Epoch != 42 {
		t.Fatalf("webhook alert %s (%v)", recv.bodies[1], err)
	}
	if b, _ := os.ReadFile(log); string(b) != "master \n" {
		t.Fatalf("scripts log %q", b)
	}
	if st := d.Stats(); st[0].Sent != 0 || st[4].Sent != 2 || st[3].Sent != 2 {
		t.Fatalf("stats %+v", st)
	}
}
