package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"vigil/fencing"
)

// WebhookConfig configures a Webhook sink.
type WebhookConfig struct {
	URL     string
	Headers map[string]string // e.g. Authorization
	// Client defaults to an http.Client with a 10s timeout per request.
	Client *http.Client
	// Policy bounds the retries (default 5 attempts, 500ms doubling to 30s).
	Policy fencing.RetryPolicy
	// Sleep waits between attempts (default fencing.SleepContext).
	Sleep    fencing.Sleeper
	RouterID string
	Logger   *slog.Logger
}

// Webhook POSTs each notification as JSON (see Payload), retrying with
// exponential backoff on transport errors, 408, 429 and 5xx. Its queue is
// the Dispatcher's bounded per-sink queue.
type Webhook struct {
	cfg WebhookConfig
	log *slog.Logger
}

// Payload is the JSON body of a webhook POST.
type Payload struct {
	RouterID   string         `json:"router_id,omitempty"`
	Time       time.Time      `json:"time"`
	Type       string         `json:"type"` // "alert" or "transition"
	Subject    string         `json:"subject"`
	Alert      *fencing.Alert `json:"alert,omitempty"`
	Transition *Transition    `json:"transition,omitempty"`
}

// NewWebhook checks cfg (an absolute http or https URL).
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Op: "webhook config", Err: fmt.Errorf("%w: url %q is not an absolute http(s) URL", ErrBadConfig, cfg.URL)}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Policy.Attempts <= 0 {
		cfg.Policy.Attempts = 5
	}
	if cfg.Policy.Initial <= 0 {
		cfg.Policy.Initial = 500 * time.Millisecond
	}
	if cfg.Sleep == nil {
		cfg.Sleep = fencing.SleepContext
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Webhook{cfg: cfg, log: log}, nil
}

// Name is "webhook".
func (w *Webhook) Name() string { return "webhook" }

// Send POSTs n until it is accepted (2xx), a permanent failure (other
// 4xx, wrapped in ErrPermanent), the attempts run out or ctx ends.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	subject, _ := Message(w.cfg.RouterID, n)
	p := Payload{RouterID: w.cfg.RouterID, Time: n.Time, Subject: subject, Alert: n.Alert, Transition: n.Transition}
	if n.Alert != nil {
		p.Type = "alert"
	} else {
		p.Type = "transition"
	}
	body, err := json.Marshal(p)
	if err != nil {
		return &Error{Op: "webhook encode", Err: err}
	}
	var last error
	for attempt := 1; attempt <= w.cfg.Policy.Attempts; attempt++ {
		last = w.post(ctx, body)
		if last == nil {
			return nil
		}
		if errors.Is(last, ErrPermanent) || ctx.Err() != nil {
			break
		}
		w.log.Warn("webhook attempt failed", "url", w.cfg.URL, "attempt", attempt, "err", last)
		if attempt < w.cfg.Policy.Attempts {
			if err := w.cfg.Sleep(ctx, w.cfg.Policy.Backoff(attempt)); err != nil {
				return &Error{Op: "webhook post", Err: errors.Join(last, err)}
			}
		}
	}
	return &Error{Op: "webhook post", Err: last}
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("%s: %q", resp.Status, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("%w: %s: %q", ErrPermanent, resp.Status, bytes.TrimSpace(msg))
	}
}
