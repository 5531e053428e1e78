package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"vigil/cluster/agent"
	"vigil/config"
)

const drainUsage = `Usage: vigil drain NODE [--api ADDR] [--token TOKEN] [-f FILE]
       vigil undrain NODE [...]

drain takes NODE out of service for maintenance: the drain flag is written
to the cluster's log, and the leader moves every VIP NODE holds to the next
eligible director in a planned handover (NODE releases, sends its
priority-0 advert, then the next takes over: no lease wait). NODE gets no
VIP until 'vigil undrain NODE'. The command returns once the flag is
committed; watch the move with 'vigil status'.

Writes need the cluster's api_token (the agent refuses writes without one):
--token, else the environment variable VIGIL_API_TOKEN, else api_token from
the configuration file given with -f (default /etc/vigil/vigil.conf, when it
exists). --api is the agent's api_listen (default 127.0.0.1:7070).

Exit status: 0 committed; 1 refused or not committed (the message says why:
an unknown node, a missing token, no quorum); 2 bad usage.
`

func init() {
	for _, drained := range []bool{true, false} {
		name, summary := "drain", "move every VIP off a node and keep it off (maintenance)"
		if !drained {
			name, summary = "undrain", "make a drained node eligible for VIPs again"
		}
		c := &command{name: name, summary: summary, usage: drainUsage}
		c.run = func(args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet(c, stdout, stderr)
			api := fs.String("api", "127.0.0.1:7070", "the agent's API `ADDR`ess (api_listen)")
			token := fs.String("token", os.Getenv("VIGIL_API_TOKEN"), "the cluster's api_token `TOKEN`")
			file := fs.String("f", "/etc/vigil/vigil.conf", "read api_token from this configuration `FILE`")
			pos, err := parseFlags(fs, args)
			if err != nil {
				return err
			}
			if len(pos) != 1 {
				fmt.Fprintf(stderr, "vigil %s: name one node (see vigil %s --help)\n", name, name)
				return exitError{2}
			}
			if *token == "" {
				*token = tokenFromFile(*file)
			}
			res, err := postDrain(*api, *token, agent.DrainRequest{Node: pos[0], Drained: drained})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: drained=%t committed at index %d\n", res.Node, res.Drained, res.Index)
			return nil
		}
		register(c)
	}
}

// tokenFromFile reads api_token from a configuration file, "" when the
// file is absent or invalid (the agent's refusal then says what to do).
func tokenFromFile(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	c, _, err := config.ParseFile(path)
	if err != nil || c.Cluster == nil {
		return ""
	}
	return c.Cluster.APIToken
}

func postDrain(api, token string, req agent.DrainRequest) (*agent.DrainResult, error) {
	body, _ := json.Marshal(req)
	r, err := http.NewRequest(http.MethodPost, "http://"+api+"/v1/drain", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", api, err)
	}
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the agent at %s: %w (is 'vigil agent' running? is --api its api_listen?)", api, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e agent.APIError
		_ = json.Unmarshal(raw, &e)
		if e.Field != "" {
			return nil, fmt.Errorf("agent at %s refused (%s): %s: %s", api, resp.Status, e.Field, e.Error)
		}
		return nil, fmt.Errorf("agent at %s refused (%s): %s", api, resp.Status, e.Error)
	}
	var res agent.DrainResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode the agent's answer: %w", err)
	}
	return &res, nil
}
