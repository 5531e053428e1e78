package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"vigil/cluster/agent"
	"vigil/config"
)

const configApplyUsage = `Usage: vigil config apply FILE [--api ADDR] [--token TOKEN]
       vigil config diff FILE [--api ADDR] [--token TOKEN]

apply replaces the cluster's configuration with FILE, atomically and
cluster-wide: FILE is validated here first (as 'vigil config check'), sent
to the local agent, validated again there, written to the cluster's log, and
every director applies it. An invalid FILE changes nothing and the errors
name file, line and keyword. A running director applies live: virtual
servers, real servers, weights and health checkers (only what differs is
touched); vrrp_instances added, removed or changed (VIPs, interface, VRID,
advert settings, use_vmac, notify scripts; priority, nopreempt and
preempt_delay, node overrides included); and trackers (vrrp_script,
track_script, track_file, track_interface). An instance whose VIPs or wire
settings changed is released by its holder and taken again under the new
definition, usually within a second; no instance is granted to anyone
while an old definition may still be held, so a VIP moved from one
instance to another is never on two directors. The leader decides again at
once with new priorities (a director that is now better preempts, in a
planned handover). Refused, with what to do instead: another cluster name,
moved node addresses or another number of heartbeat links; the cluster
block's timing, ports, TLS, gossip key and fence_peer; gratuitous ARP
timing, notify_fifo, SMTP and webhooks; the datapath, or the first or last
virtual_server; and a use_vmac interface that would change MAC or parent
under the same name (restart the directors one by one with the new file).

diff shows how FILE differs from the cluster's configuration (- the
cluster's, + FILE's), in normalized syntax.

The token is --token, else VIGIL_API_TOKEN, else the api_token in FILE.
--api is the local agent's api_listen (default 127.0.0.1:7070).

Exit status: 0 applied (diff: no difference); 1 refused, invalid or not
committed (diff: differences shown); 2 bad usage.
`

func runConfigApply(sub string, args []string, stdout, stderr io.Writer) error {
	c := &command{name: "config " + sub, usage: configApplyUsage}
	fs := newFlagSet(c, stdout, stderr)
	api := fs.String("api", "127.0.0.1:7070", "the agent's API `ADDR`ess (api_listen)")
	token := fs.String("token", os.Getenv("VIGIL_API_TOKEN"), "the cluster's api_token `TOKEN` (default: FILE's)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	file, err := oneFile(sub, files, stderr)
	if err != nil {
		return err
	}
	cfg, _, err := loadConfig(file, "", stderr)
	if err != nil {
		return err
	}
	if errs := agent.Check(cfg); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "%s: %d error(s); nothing was applied\n", file, len(errs))
		return exitError{1}
	}
	if *token == "" && cfg.Cluster != nil {
		*token = cfg.Cluster.APIToken
	}
	text := config.Format(cfg.Tree)
	if sub == "diff" {
		var cur agent.ConfigResult
		if _, err := callAPI(http.MethodGet, *api, "/v1/config", *token, nil, &cur); err != nil {
			return err
		}
		d := lineDiff(cur.Text, text)
		if d == "" {
			fmt.Fprintf(stdout, "%s is the cluster's configuration (version %d)\n", file, cur.Version)
			return nil
		}
		fmt.Fprintf(stdout, "--- the cluster's configuration (version %d)\n+++ %s\n%s", cur.Version, file, d)
		return exitError{1}
	}
	var res agent.ConfigResult
	if _, err := callAPI(http.MethodPost, *api, "/v1/config", *token, agent.ConfigRequest{Text: text}, &res); err != nil {
		return fmt.Errorf("%w\nnothing was applied", err)
	}
	fmt.Fprintf(stdout, "%s is the cluster's configuration, version %d; every director applies it (see vigil status)\n", file, res.Version)
	return nil
}

// lineDiff is a line diff of a and b (longest common subsequence), with
// "-" for lines only in a and "+" for lines only in b; "" when equal.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	changed := false
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+%s\n", y[j])
			j, changed = j+1, true
		default:
			fmt.Fprintf(&out, "-%s\n", x[i])
			i, changed = i+1, true
		}
	}
	if !changed {
		return ""
	}
	return out.String()
}
