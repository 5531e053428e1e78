package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/cluster/agent"
)

const statusUsage = `Usage: vigil status [--json] [--api ADDR] [--token TOKEN]

Show the cluster as the local agent sees it: the nodes with their Raft role
and heartbeat links (up, degraded, down), the instances with their holder,
epoch and remaining lease, and the open alerts.

--api defaults to 127.0.0.1:7070 (the default api_listen); --token (or the
environment variable VIGIL_API_TOKEN) is sent as a bearer token, needed
only for agents that are not on loopback.

--json prints the API's JSON (GET /v1/status), with these stable fields:
  cluster, node, leader, term, commit_index
  nodes[]: name, raft_state, state, drained, links[] (name, address, state)
  instances[]: name, vrid, holder, epoch, lease_remaining_ms (null unless
               the answering node holds the instance)
  services[]: name, reals[] (address, up: the agreed verdict, reports: each
              director's own verdict)
  alerts[]: kind, since, evidence

Exit status: 0 printed; 1 the agent could not be reached (is it running?
is --api right?); 2 bad usage.
`

func init() {
	c := &command{name: "status", summary: "show nodes, links, VIP holders and alerts", usage: statusUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		asJSON := fs.Bool("json", false, "print the JSON of GET /v1/status")
		api := addAPIFlags(fs, false)
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		st, raw, err := fetchStatus(api)
		if err != nil {
			return err
		}
		if *asJSON {
			_, err := stdout.Write(raw)
			return err
		}
		printStatus(stdout, st)
		return nil
	}
	register(c)
}

func fetchStatus(api apiFlags) (*agent.ClusterStatus, []byte, error) {
	var st agent.ClusterStatus
	raw, err := api.call(http.MethodGet, "/v1/status", nil, &st)
	if err != nil {
		return nil, nil, err
	}
	return &st, raw, nil
}

func printStatus(w io.Writer, st *agent.ClusterStatus) {
	leader := st.Leader
	if leader == "" {
		leader = "none (no quorum)"
	}
	fmt.Fprintf(w, "cluster %s, seen from %s: leader %s, term %d, commit index %d\n\n", st.Cluster, st.Node, leader, st.Term, st.CommitIndex)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tRAFT\tLINKS\tDRAINED")
	for _, n := range st.Nodes {
		var links []string
		for _, l := range n.Links {
			links = append(links, fmt.Sprintf("%s=%s", l.Name, l.State))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%s)\t%t\n", n.Name, n.RaftState, n.State, strings.Join(links, " "), n.Drained)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "INSTANCE\tVRID\tHOLDER\tEPOCH\tLEASE\tPINNED\tPRIORITIES")
	for _, i := range st.Instances {
		holder, lease := i.Holder, "-"
		if holder == "" {
			holder = "(none)"
		}
		if i.LeaseRemainingMS != nil {
			lease = fmt.Sprintf("%d ms", *i.LeaseRemainingMS)
		}
		pinned := i.Pinned
		if pinned == "" {
			pinned = "-"
		}
		var prios []string
		for _, p := range i.Priorities {
			switch {
			case p.Fault:
				prios = append(prios, p.Node+"=fault")
			case p.Weight != 0:
				prios = append(prios, fmt.Sprintf("%s=%d(%d%+d)", p.Node, p.Effective, p.Configured, p.Weight))
			default:
				prios = append(prios, fmt.Sprintf("%s=%d", p.Node, p.Effective))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\n", i.Name, i.VRID, holder, i.Epoch, lease, pinned, strings.Join(prios, " "))
	}
	if len(st.Services) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "SERVICE\tREAL SERVER\tVERDICT\tREPORTS")
		for _, s := range st.Services {
			for _, r := range s.Reals {
				verdict := "down"
				if r.Up {
					verdict = "up"
				}
				var reps []string
				for _, n := range slices.Sorted(maps.Keys(r.Reports)) {
					state := "down"
					if r.Reports[n] {
						state = "up"
					}
					reps = append(reps, n+"="+state)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, r.Address, verdict, strings.Join(reps, " "))
			}
		}
	}
	tw.Flush()
	if len(st.Alerts) == 0 {
		fmt.Fprintln(w, "\nno open alerts")
		return
	}
	fmt.Fprintln(w, "\nALERTS")
	for _, a := range st.Alerts {
		var ev []string
		for k, v := range a.Evidence {
			ev = append(ev, k+"="+v)
		}
		fmt.Fprintf(w, "  %s since %s: %s\n", a.Kind, a.Since.Format(time.RFC3339), strings.Join(ev, " "))
	}
}
