package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"vigil/cluster/agent"
	"vigil/config"
)

const configUsage = `Usage: vigil config SUBCOMMAND [OPTIONS] FILE...

Read, check and convert keepalived.conf files and vigil configurations (a
keepalived.conf with a cluster { } block).

Subcommands:
  check FILE          validate FILE; exit 0 if it is valid, 1 with the error list
  dump [--json] FILE  print the normalized configuration with every default filled in
  import FILE...      merge the keepalived.conf files of a pair or trio into one
                      vigil configuration
  apply FILE          replace the cluster's configuration with FILE (validated
                      first), cluster-wide
  diff FILE           show how FILE differs from the cluster's configuration

Run 'vigil config SUBCOMMAND --help' for the options of one subcommand.
`

const configCheckUsage = `Usage: vigil config check [--node NAME] [--config-id ID] FILE

Read FILE (with its includes), build the model and validate it, like
'keepalived -t'. Every error names file:line:col and the keyword at fault,
and unknown keywords come with a did-you-mean suggestion. Beyond the syntax,
it builds what a director would: every health checker (a bad regex, an
unreadable CA file, a missing or unsafe MISC_CHECK script are errors) and the
load-balancer services, checked against the datapath (datapath nftables
refuses schedulers and methods it cannot express, such as wlc or TUN; with
datapath auto, the datapath this machine's kernel would get).

A file without a cluster { } block is a plain keepalived.conf: it is checked
all the same, and the report says so ('vigil agent' needs a cluster block).
With a cluster block, each node's view (its node NAME { } overrides applied)
is validated too.

Output: warnings (deprecated keywords, ...) and errors go to standard error;
a one-line summary of a valid file goes to standard output.

Exit status: 0 valid (warnings allowed); 1 invalid or unreadable; 2 bad usage.
`

const configDumpUsage = `Usage: vigil config dump [--json] [--node NAME] [--config-id ID] FILE

Print FILE as vigil reads it.

With --json: the typed model with every default filled in (keepalived.conf(5)
defaults: lvs_sched wlc, lvs_method NAT, priority 100, advert_int 1, delay_loop
60, connect_timeout 5, ...; vigil's cluster defaults), with stable snake_case
field names for tools and golden tests. Durations are numbers of seconds.

Without --json: the configuration in normalized keepalived.conf syntax,
includes expanded, comments removed, one statement per line, indented by
block (the syntax as written; defaults are not added).

--node NAME prints the configuration as node NAME sees it (its node { }
overrides applied); it needs a cluster block.

Exit status: 0 printed; 1 invalid or unreadable (the errors on standard error);
2 bad usage.
`

func init() {
	register(&command{
		name:    "config",
		summary: "check, dump or import a keepalived.conf / vigil configuration",
		usage:   configUsage,
		run:     runConfig,
	})
}

func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return exitError{2}
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return nil
	case "check":
		return runConfigCheck(args[1:], stdout, stderr)
	case "dump":
		return runConfigDump(args[1:], stdout, stderr)
	case "import":
		return runConfigImport(args[1:], stdout, stderr)
	case "apply", "diff":
		return runConfigApply(args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vigil config: unknown subcommand %q (check, dump, import, apply or diff)\n", args[0])
	return exitError{2}
}

// loadConfig parses file and prints warnings and errors to stderr. It
// returns nil and an exitError when the file is invalid.
func loadConfig(file, configID string, stderr io.Writer) (*config.Config, []config.Warning, error) {
	c, warns, err := config.ParseFileWith(file, config.Options{ConfigID: configID})
	for _, w := range warns {
		fmt.Fprintln(stderr, w)
	}
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "%s: %d error(s)\n", file, len(list))
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
		}
		return nil, warns, exitError{1}
	}
	return c, warns, nil
}

func oneFile(name string, files []string, stderr io.Writer) (string, error) {
	if len(files) != 1 {
		fmt.Fprintf(stderr, "vigil config %s: need exactly one FILE, got %d; run 'vigil config %s --help'\n", name, len(files), name)
		return "", exitError{2}
	}
	return files[0], nil
}

func runConfigCheck(args []string, stdout, stderr io.Writer) error {
	c := &command{name: "config check", usage: configCheckUsage}
	fs := newFlagSet(c, stdout, stderr)
	node := fs.String("node", "", "also validate the view of node `NAME` alone (every node's view is validated anyway)")
	configID := fs.String("config-id", "", "select keepalived conditional lines @`ID` (default: the --node name)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	file, err := oneFile("check", files, stderr)
	if err != nil {
		return err
	}
	if *configID == "" {
		*configID = *node
	}
	cfg, warns, err := loadConfig(file, *configID, stderr)
	if err != nil {
		return err
	}
	if *node != "" {
		if _, err := cfg.ForNode(*node); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			return exitError{1}
		}
	}
	// What the file asks of a director that a director cannot do: checkers
	// that cannot be built, services the datapath cannot express.
	if errs := agent.Check(cfg); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "%s: %d error(s)\n", file, len(errs))
		return exitError{1}
	}
	rs := 0
	for _, vs := range cfg.VirtualServers {
		rs += len(vs.RealServers)
	}
	counts := fmt.Sprintf("%d vrrp_instance(s), %d virtual_server(s), %d real_server(s), %d warning(s)",
		len(cfg.Instances), len(cfg.VirtualServers), rs, len(warns))
	if cfg.Cluster == nil {
		fmt.Fprintf(stdout, "%s: valid plain keepalived config (no cluster block): %s; 'vigil agent' needs a cluster { } block\n", file, counts)
		return nil
	}
	names := make([]string, len(cfg.Cluster.Nodes))
	for i, n := range cfg.Cluster.Nodes {
		names[i] = n.Name
	}
	fmt.Fprintf(stdout, "%s: valid vigil config: cluster %s, nodes %s, %d heartbeat link(s); %s\n",
		file, cfg.Cluster.Name, strings.Join(names, ", "), cfg.Cluster.Links(), counts)
	return nil
}

func runConfigDump(args []string, stdout, stderr io.Writer) error {
	c := &command{name: "config dump", usage: configDumpUsage}
	fs := newFlagSet(c, stdout, stderr)
	asJSON := fs.Bool("json", false, "print the typed model as JSON, every default filled in")
	node := fs.String("node", "", "print the configuration as node `NAME` sees it")
	configID := fs.String("config-id", "", "select keepalived conditional lines @`ID` (default: the --node name)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	file, err := oneFile("dump", files, stderr)
	if err != nil {
		return err
	}
	if *configID == "" {
		*configID = *node
	}
	cfg, _, err := loadConfig(file, *configID, stderr)
	if err != nil {
		return err
	}
	if *node != "" {
		if cfg, err = cfg.ForNode(*node); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			return exitError{1}
		}
	}
	if *asJSON {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return fmt.Errorf("encode %s: %w", file, err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	_, err = io.WriteString(stdout, config.Format(cfg.Tree))
	return err
}
