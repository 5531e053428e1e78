package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/fencing"
)

// hookReceiver answers the first failures requests with status, then 204,
// and keeps the bodies it accepted.
type hookReceiver struct {
	mu       sync.Mutex
	failures int
	status   int
	calls    int
	bodies   [][]byte
	headers  []http.Header
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	if h.calls <= h.failures {
		http.Error(w, "try later", h.status)
		return
	}
	h.bodies = append(h.bodies, b)
	h.headers = append(h.headers, r.Header.Clone())
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhookRetriesUntilAccepted(t *testing.T) {
	recv := &hookReceiver{failures: 2, status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	s := &recordingSleep{}
	w, err := NewWebhook(WebhookConfig{URL: srv.URL + "/alerts", Headers: map[string]string{"Authorization": "Bearer t0ken"},
		Sleep: s.sleep, RouterID: "lb1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	a := fencing.Alert{Kind: fencing.KindLinkDegraded, Severity: fencing.SeverityWarning, Since: now, Peer: "d2", Link: "hb", Count: 1,
		Message: "heartbeat link hb to d2 is down", Evidence: map[string]string{"links": "2", "links_down": "1"}}
	if err := w.Send(context.Background(), Notification{Time: now, Alert: &a}); err != nil {
		t.Fatal(err)
	}
	if recv.calls != 3 || len(recv.bodies) != 1 {
		t.Fatalf("%d calls, %d accepted; want 3 and 1", recv.calls, len(recv.bodies))
	}
	if !reflect.DeepEqual(s.waits, []time.Duration{500 * time.Millisecond, time.Second}) {
		t.Fatalf("backoffs %v", s.waits)
	}
	if got := recv.headers[0].Get("Authorization"); got != "Bearer t0ken" {
		t.Fatalf("Authorization %q", got)
	}
	var p Payload
	if err := json.Unmarshal(recv.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "alert" || p.RouterID != "lb1" || p.Alert == nil || p.Alert.Kind != fencing.KindLinkDegraded || p.Alert.Peer != "d2" ||
		p.Alert.Evidence["links_down"] != "1" || p.Subject != "[lb1] Split-brain alert link_degraded peer=d2 link=hb - RAISED" {
		t.Fatalf("payload %s", recv.bodies[0])
	}
	// The wire form: stable field names, severity as text.
	for _, frag := range []string{`"kind":"link_degraded"`, `"severity":"warning"`, `"resolved":false`, `"type":"alert"`} {
		if !strings.Contains(string(recv.bodies[0]), frag) {
			t.Errorf("payload lacks %s: %s", frag, recv.bodies[0])
		}
	}
}

func TestWebhookTransitionPayload(t *testing.T) {
	recv := &hookReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL})
	if err := w.Send(context.Background(), Notification{Transition: &Transition{Name: "VI_1", State: StateMaster, Priority: 100, Epoch: 9}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(recv.bodies[0]), `"transition":{"name":"VI_1","state":"MASTER","priority":100,"epoch":9}`) {
		t.Fatalf("payload %s", recv.bodies[0])
	}
}

func TestWebhookPermanentFailureNotRetried(t *testing.T) {
	recv := &hookReceiver{failures: 100, status: http.StatusUnauthorized}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	s := &recordingSleep{}
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL, Sleep: s.sleep})
	err := w.Send(context.Background(), Notification{Transition: &Transition{Name: "VI_1", State: StateMaster}})
	if !errors.Is(err, ErrPermanent) || recv.calls != 1 || len(s.waits) != 0 {
		t.Fatalf("err %v after %d calls", err, recv.calls)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	recv := &hookReceiver{failures: 100, status: http.StatusBadGateway}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	s := &recordingSleep{}
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL, Sleep: s.sleep, Policy: fencing.RetryPolicy{Attempts: 3, Initial: time.Second}})
	err := w.Send(context.Background(), Notification{Transition: &Transition{Name: "VI_1", State: StateMaster}})
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") || recv.calls != 3 {
		t.Fatalf("err %v after %d calls", err, recv.calls)
	}
	if _, err := NewWebhook(WebhookConfig{URL: "ftp://x"}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("ftp URL: %v", err)
	}
}

type recordingSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}
