package main

import (
	"fmt"
	"io"
	"net/http"

	"vigil/cluster/agent"
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
			api := addAPIFlags(fs, true)
			pos, err := parseFlags(fs, args)
			if err != nil {
				return err
			}
			if len(pos) != 1 {
				fmt.Fprintf(stderr, "vigil %s: name one node (see vigil %s --help)\n", name, name)
				return exitError{2}
			}
			var res agent.DrainResult
			if _, err := api.call(http.MethodPost, "/v1/drain", agent.DrainRequest{Node: pos[0], Drained: drained}, &res); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: drained=%t committed at index %d\n", res.Node, res.Drained, res.Index)
			return nil
		}
		register(c)
	}
}
