package main

import (
	"fmt"
	"io"
	"net/http"

	"vigil/cluster/agent"
)

const transferUsage = `Usage: vigil transfer INSTANCE [--to NODE] [--api ADDR] [--token TOKEN] [-f FILE]
       vigil transfer INSTANCE --clear [...]

transfer hands INSTANCE's VIPs over to NODE in a planned move: the holder
releases them (removes the addresses, sends its priority-0 advert) and NODE
takes over at once, with no lease wait (the VIP is unreachable for tens of
milliseconds). Without --to, the target is the best other eligible director
(highest effective priority, then the smallest name).

The instance stays pinned to NODE, even against a director with a higher
priority, while NODE is eligible; if NODE fails, the VIP moves on by the
usual rules and the pin is gone. --clear removes a pin: the priority rules
(preemption included) decide again.

The command returns once NODE holds the instance under a new epoch, and
prints the holder and epoch. It refuses, naming the field, an unknown
instance, a NODE that is not a candidate for it (no priority there), or one
that cannot hold it now (drained, faulted, unreachable).

Writes need the cluster's api_token: --token, else VIGIL_API_TOKEN, else
api_token from -f FILE (default /etc/vigil/vigil.conf). --api is the local
agent's api_listen (default 127.0.0.1:7070).

Exit status: 0 transferred (or pin cleared); 1 refused, not committed or
not taken over in time (the message says why); 2 bad usage.
`

func init() {
	c := &command{name: "transfer", summary: "hand an instance's VIPs over to another director (planned)", usage: transferUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		to := fs.String("to", "", "the `NODE` to hand the instance to (default: the best other eligible node)")
		unpin := fs.Bool("clear", false, "remove the instance's pin instead")
		api := addAPIFlags(fs, true)
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "vigil transfer: name one instance (see vigil transfer --help)")
			return exitError{2}
		}
		if *unpin && *to != "" {
			fmt.Fprintln(stderr, "vigil transfer: give --to or --clear, not both")
			return exitError{2}
		}
		var res agent.TransferResult
		if _, err := api.call(http.MethodPost, "/v1/transfer", agent.TransferRequest{Instance: pos[0], To: *to, Clear: *unpin}, &res); err != nil {
			return err
		}
		if *unpin {
			fmt.Fprintf(stdout, "%s: pin cleared (committed at index %d); holder %s\n", res.Instance, res.Index, res.Holder)
			return nil
		}
		fmt.Fprintf(stdout, "%s: held by %s, epoch %d (pinned to %s)\n", res.Instance, res.Holder, res.Epoch, res.Pinned)
		return nil
	}
	register(c)
}
