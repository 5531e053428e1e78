package sinktest

import (
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// HookRequest is one POST the webhook receiver got.
type HookRequest struct {
	From       string // the client's IP address
	Body       []byte
	Start, End time.Time
	// Answered is true when the receiver accepted the request (204); false
	// when it was down and the client gave up first.
	Answered bool
}

// Hook is a webhook receiver that records every POST. While it is down
// it answers nothing: each request is held, unanswered, until the client
// gives up (its timeout) or the receiver comes up, which is the worst a
// sink can do to its client.
type Hook struct {
	srv  *http.Server
	done chan struct{}

	mu   sync.Mutex
	up   chan struct{} // closed once up
	reqs []HookRequest
}

// NewHook serves HTTP on ln until the test ends, up or down.
func NewHook(t testing.TB, ln net.Listener, up bool) *Hook {
	h := &Hook{up: make(chan struct{}), done: make(chan struct{})}
	if up {
		close(h.up)
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { defer close(h.done); _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { h.srv.Close(); <-h.done })
	return h
}

// Up makes the receiver answer, the requests it holds too.
func (h *Hook) Up() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.up:
	default:
		close(h.up)
	}
}

// Requests returns what the receiver got so far, in arrival order; a
// request still held has a zero End.
func (h *Hook) Requests() []HookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func (h *Hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	from, _, _ := net.SplitHostPort(r.RemoteAddr)
	h.mu.Lock()
	i := len(h.reqs)
	h.reqs = append(h.reqs, HookRequest{From: from, Body: body, Start: time.Now()})
	up := h.up
	h.mu.Unlock()
	answered := false
	select {
	case <-up:
		answered = r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/json"
	case <-r.Context().Done():
	}
	h.mu.Lock()
	h.reqs[i].End, h.reqs[i].Answered = time.Now(), answered
	h.mu.Unlock()
	if !answered {
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
