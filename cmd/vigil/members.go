package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"vigil/cluster/agent"
)

const membersUsage = `Usage: vigil members list [--json] [--api ADDR] [--token TOKEN]
       vigil members add NODE [--api ADDR] [--token TOKEN] [-f FILE]
       vigil members remove NODE [--api ADDR] [--token TOKEN] [-f FILE]

list shows the Raft members as the local agent sees them: name, suffrage
(voter, nonvoter), whether it leads, its addresses (one per heartbeat link)
and whether it is reachable on at least one link.

add makes NODE a voting member. NODE must be a node of the cluster block
(every director needs its addresses). To grow the cluster by a new
director: add 'node NAME { address ... }' (and its priorities) to the
file and 'vigil config apply' it (every director learns the addresses
live), start the new director with 'vigil agent --join' and an empty data
directory (it then waits instead of bootstrapping a cluster of its own),
and run 'vigil members add NAME' on any member. A rebuilt director that
was removed comes back the same way (then 'vigil undrain NAME').

remove takes NODE out of the Raft configuration, so the quorum is counted
without it (a director that is gone for good). NODE must be drained first
('vigil drain NODE') and hold no VIP; it stays drained, so a removed
director that still runs is never given a VIP. Once removed, it may leave
the cluster block too (a config apply that drops a voter is refused).

Both return once the change shows in the local agent's Raft configuration
and print the members. They are forwarded to the leader from any member.
Writes need the cluster's api_token: --token, else VIGIL_API_TOKEN, else
api_token from -f FILE (default /etc/vigil/vigil.conf).

Exit status: 0 listed or changed; 1 the agent could not be reached, or
refused (the message names the field and what to do); 2 bad usage.
`

func init() {
	c := &command{name: "members", summary: "list, add or remove Raft members", usage: membersUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		asJSON := fs.Bool("json", false, "print the JSON of GET /v1/members (list)")
		api := addAPIFlags(fs, true)
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		var ms []agent.Member
		var raw []byte
		switch {
		case len(pos) == 1 && pos[0] == "list":
			raw, err = api.call(http.MethodGet, "/v1/members", nil, &ms)
		case len(pos) == 2 && (pos[0] == "add" || pos[0] == "remove"):
			var res agent.MembersResult
			raw, err = api.call(http.MethodPost, "/v1/members", agent.MembersRequest{Op: pos[0], Node: pos[1]}, &res)
			ms = res.Members
		default:
			fmt.Fprintln(stderr, "vigil members: use 'list', 'add NODE' or 'remove NODE' (see vigil members --help)")
			return exitError{2}
		}
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(raw)
			return err
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
