package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"vigil/cluster/agent"
	"vigil/config"
)

// apiFlags are the flags of every command that talks to the local agent.
type apiFlags struct {
	api, token, file *string
}

// addAPIFlags registers --api and --token, and with writes also -f (the
// configuration file api_token is read from when no token is given).
func addAPIFlags(fs *flag.FlagSet, writes bool) apiFlags {
	f := apiFlags{
		api:   fs.String("api", "127.0.0.1:7070", "the agent's API `ADDR`ess (api_listen)"),
		token: fs.String("token", os.Getenv("VIGIL_API_TOKEN"), "the cluster's api_token `TOKEN` (default $VIGIL_API_TOKEN)"),
	}
	empty := ""
	f.file = &empty
	if writes {
		f.file = fs.String("f", "/etc/vigil/vigil.conf", "read api_token from this configuration `FILE` when no token is given")
	}
	return f
}

// call sends a request to the agent with the resolved token.
func (f apiFlags) call(method, path string, body, out any) ([]byte, error) {
	token := *f.token
	if token == "" && *f.file != "" {
		token = tokenFromFile(*f.file)
	}
	return callAPI(method, *f.api, path, token, body, out)
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

// callAPI sends a JSON request to the agent and decodes its answer into
// out (when not nil); it also returns the raw answer. A 4xx/5xx becomes an
// error naming the field at fault.
func callAPI(method, api, path, token string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+api+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--api %q: %w", api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the agent at %s: %w (is 'vigil agent' running? is --api its api_listen?)", api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer of the agent at %s: %w", api, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e agent.APIError
		_ = json.Unmarshal(raw, &e)
		if e.Field != "" {
			return nil, fmt.Errorf("agent at %s refused (%s), %s: %s", api, resp.Status, e.Field, e.Error)
		}
		return nil, fmt.Errorf("agent at %s refused (%s): %s", api, resp.Status, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode the answer of the agent at %s: %w", api, err)
		}
	}
	return raw, nil
}
