package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"vigil/config"
)

// configImportUsage is the help of `vigil config import`.
const configImportUsage = `Usage: vigil config import [-o OUT] [--names d1,d2,d3] [--cluster NAME]
                           [--address NODE=IP[,IP]]... FILE FILE [FILE...]

Merge the keepalived.conf files of an existing pair or trio of directors, one
file per node, into ONE vigil configuration: a cluster block with a node per
file (its address taken from unicast_src_ip or mcast_src_ip, inferred from
the other nodes' unicast_peer lists, or given with --address), the shared
instances and virtual servers, and what is legitimately node-specific
(priority, state, interface, track_interface, unicast_src_ip, unicast_peer,
mcast_src_ip) as "node NAME { ... }" overrides inside each vrrp_instance.

Every other difference between the files (VIP lists, advert_int, version,
authentication, virtual and real servers, checkers) is the drift that gives
keepalived users two masters: each is reported with both files and lines,
for example

  d1.conf:14:5 and d2.conf:14:5: vrrp_instance VI_1: virtual_ipaddress differs: 10.0.0.200/24 vs 10.0.0.201/24

and nothing is written.

Each file is read with its node name as keepalived's config id: a single
keepalived.conf that uses "@lb1 ..." conditional lines can be given once per
node, e.g. vigil config import --names lb1,lb2 keepalived.conf keepalived.conf. Exit status: 0 imported; 1 drift, unreadable or
broken input, or an output that needs editing (a node address that could
not be determined); 2 bad usage.
`

// runConfigImport runs `vigil config import ARGS`. config_cmd.go dispatches
// the import subcommand of `vigil config` here.
func runConfigImport(args []string, stdout, stderr io.Writer) error {
	c := &command{name: "config import", usage: configImportUsage}
	fs := newFlagSet(c, stdout, stderr)
	out := fs.String("o", "", "write the configuration to `FILE` (default: standard output)")
	names := fs.String("names", "", "node names, comma-separated, one per file in order (default: the file names without extension)")
	cluster := fs.String("cluster", "", "cluster `NAME` (default: derived from the router_ids)")
	addrs := map[string][]string{}
	fs.Func("address", "a node's address(es) as `NODE=IP[,IP...]`, one per heartbeat link, when the files do not tell (repeatable)", func(v string) error {
		name, list, ok := strings.Cut(v, "=")
		if !ok || name == "" || list == "" {
			return fmt.Errorf("want NODE=IP[,IP...], got %q", v)
		}
		addrs[name] = append(addrs[name], strings.Split(list, ",")...)
		return nil
	})
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) < 2 {
		fmt.Fprintf(stderr, "vigil config import: need the keepalived.conf of at least two nodes, got %d file(s)\n", len(files))
		return exitError{2}
	}
	opt := config.ImportOptions{ClusterName: *cluster, Addresses: addrs}
	if *names != "" {
		opt.Names = strings.Split(*names, ",")
		if len(opt.Names) != len(files) {
			fmt.Fprintf(stderr, "vigil config import: --names has %d names for %d files\n", len(opt.Names), len(files))
			return exitError{2}
		}
	}
	res, err := config.ImportFiles(files, opt)
	if err != nil {
		var drift config.DriftList
		var perr config.ErrorList
		switch {
		case errors.As(err, &drift):
			for _, d := range drift {
				fmt.Fprintln(stderr, d)
			}
			fmt.Fprintf(stderr, "vigil config import: %d difference(s) that are not node-specific; make the files agree and run the import again\n", len(drift))
		case errors.As(err, &perr):
			for _, e := range perr {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "vigil config import: %d error(s) in the input files\n", len(perr))
		default:
			fmt.Fprintf(stderr, "vigil config import: %v\n", err)
		}
		return exitError{1}
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	dest := "standard output"
	if *out == "" {
		if _, err := stdout.Write(res.Config); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		dest = *out
		if err := os.WriteFile(*out, res.Config, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	// The result must stand on its own: check it as `vigil config check` would.
	name := *out
	if name == "" {
		name = "imported.conf"
	}
	if _, _, err := config.Parse(name, res.Config); err != nil {
		fmt.Fprintf(stderr, "vigil config import: the imported configuration (%s) needs editing before use:\n%v\n", dest, err)
		return exitError{1}
	}
	fmt.Fprintf(stderr, "vigil config import: merged %d nodes (%s) into %s\n", len(res.Nodes), strings.Join(res.Nodes, ", "), dest)
	return nil
}
