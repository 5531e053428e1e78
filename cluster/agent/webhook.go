package agent

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"vigil/fencing"
	"vigil/fencing/notify"
)

// webhookBackoff is the first wait between two attempts of a webhook; it
// doubles up to webhookBackoffMax.
const (
	webhookBackoff    = 500 * time.Millisecond
	webhookBackoffMax = 30 * time.Second
)

// webhooks builds the webhook sinks and the bound on one notification's
// delivery that lets each run all its attempts (at least the
// dispatcher's default minute).
func webhooks(cfgs []WebhookSink, log *slog.Logger) ([]notify.Sink, time.Duration, error) {
	bound := time.Minute
	var sinks []notify.Sink
	for _, c := range cfgs {
		if c.Timeout <= 0 {
			c.Timeout = 10 * time.Second
		}
		c.Attempts = max(c.Attempts, 1)
		p := fencing.RetryPolicy{Attempts: c.Attempts, Initial: webhookBackoff, Max: webhookBackoffMax}
		w, err := notify.NewWebhook(notify.WebhookConfig{
			URL: c.URL, Headers: c.Headers, Client: &http.Client{Timeout: c.Timeout}, Policy: p,
			RouterID: c.RouterID, Logger: log.With("component", "webhook"),
		})
		if err != nil {
			return nil, 0, fmt.Errorf("agent: webhook %s: %w", c.URL, err)
		}
		sinks = append(sinks, w)
		total := time.Duration(c.Attempts) * c.Timeout
		for i := 1; i < c.Attempts; i++ {
			total += p.Backoff(i)
		}
		bound = max(bound, total+time.Second)
	}
	return sinks, bound, nil
}
