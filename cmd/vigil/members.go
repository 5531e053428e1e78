package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/cluster/agent"
)

const membersUsage = `Usage: vigil members list [--json] [--api ADDR] [--token TOKEN]

List the Raft members as the local agent sees them: name, suffrage
(voter, nonvoter), whether it leads, its addresses (one per heartbeat link)
and whether it is reachable on at least one link.

The members are the nodes of the cluster block. Adding or removing a
director means changing that block on every director (the same file
everywhere); 'vigil members add|remove' will do it through the cluster once
'vigil config apply' exists.

Exit status: 0 listed; 1 the agent could not be reached; 2 bad usage.
`

func init() {
	c := &command{name: "members", summary: "list the Raft members and their reachability", usage: membersUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		asJSON := fs.Bool("json", false, "print the JSON of GET /v1/members")
		api := fs.String("api", "127.0.0.1:7070", "the agent's API `ADDR`ess (api_listen)")
		token := fs.String("token", os.Getenv("VIGIL_API_TOKEN"), "bearer `TOKEN` for a non-loopback agent")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 || pos[0] != "list" {
			fmt.Fprintln(stderr, "vigil members: only 'list' exists yet (see vigil members --help)")
			return exitError{2}
		}
		req, err := http.NewRequest(http.MethodGet, "http://"+*api+"/v1/members", nil)
		if err != nil {
			return fmt.Errorf("--api %q: %w", *api, err)
		}
		if *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return fmt.Errorf("cannot reach the agent at %s: %w (is 'vigil agent' running? is --api its api_listen?)", *api, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			var e agent.APIError
			_ = json.Unmarshal(raw, &e)
			return fmt.Errorf("agent at %s answered %s: %s", *api, resp.Status, e.Error)
		}
		if *asJSON {
			_, err := stdout.Write(raw)
			return err
		}
		var ms []agent.Member
		if err := json.Unmarshal(raw, &ms); err != nil {
			return fmt.Errorf("decode members: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSUFFRAGE\tLEADER\tREACHABLE\tADDRESSES")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\n", m.Name, m.Suffrage, m.Leader, m.Reachable, strings.Join(m.Addresses, " "))
		}
		return tw.Flush()
	}
	register(c)
}
