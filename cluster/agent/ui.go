package agent

import (
	_ "embed"
	"net/http"
)

// statusPage is the status page, embedded in the binary: one HTML file
// with its CSS and JavaScript inline, no external assets. It polls
// /v1/status every 2 s and draws the cluster map (nodes and links
// coloured by state), the VIP holders, the services and the alerts.
//
//go:embed ui/index.html
var statusPage []byte

func serveStatusPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(statusPage)
}
