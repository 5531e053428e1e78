package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

const demoUsage = `Usage: vigil demo [--keep] [--clean]

Run a three-director vigil cluster in network namespaces on this machine and
show what it does, in under a minute:

  1. three directors (d1, d2, d3) on two links: a front network with the
     client and a back network with two real servers (HTTP and WebSocket);
     both carry heartbeats
  2. the cluster elects a holder for the VIP 10.91.0.200 (and the real
     servers' gateway 10.92.0.254, which moves with it) and programs the
     same nftables load balancer on every director
  3. a client opens a WebSocket through the VIP and talks every 50 ms
  4. kill -9 of the holder: the measured failover time, and whether the
     WebSocket stayed connected to the same real server
  5. the old holder comes back, then is cut off on both links: it drops the
     VIP within its lease, the majority takes over, never both at once
  6. everything is restored and torn down

Needs root (namespaces, veth links, bridges, nftables) and the ip and nft
commands (Debian: iproute2, nftables). Nothing outside the namespaces it
creates is touched; they are all named vigdemo-*.

--keep leaves the lab running after the story and prints how to look at it
(vigil status in a director's namespace, the API); --clean removes a kept
lab and exits.
`

func init() {
	c := &command{name: "demo", summary: "run a three-director cluster in namespaces: a failover, the numbers", usage: demoUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		keep := fs.Bool("keep", false, "leave the lab running at the end")
		clean := fs.Bool("clean", false, "remove a lab left by --keep and exit")
		if _, err := parseFlags(fs, args); err != nil {
			return err
		}
		if os.Geteuid() != 0 {
			return errors.New("needs root: it creates network namespaces, veth links, bridges and nftables tables (run it as root: sudo make demo)")
		}
		for _, tool := range []string{"ip", "nft"} {
			if _, err := exec.LookPath(tool); err != nil {
				return fmt.Errorf("the %s command is missing: apt-get install iproute2 nftables", tool)
			}
		}
		if *clean {
			n := removeDemo()
			fmt.Fprintf(stdout, "removed %d namespaces of a kept demo\n", n)
			return nil
		}
		return runDemo(*keep, stdout)
	}
	register(c)
}
