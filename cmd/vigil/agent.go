package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vigil/cluster/agent"
	"vigil/config"
)

const agentUsage = `Usage: vigil agent -f FILE [--node NAME] [--data-dir DIR] [--join] [--log-format text|json] [--log-level LEVEL]

Run one director of a vigil cluster. FILE is a keepalived.conf with a
cluster { } block naming the directors; the same file goes to every
director. The agent joins the Raft group (bootstrapping it from the cluster
block on the very first start, keeping its state in data_dir), holds the
VIPs the cluster grants it under a lease, announces them with gratuitous
ARP / unsolicited NA and VRRP adverts, and serves the API on api_listen.

Without --node the agent runs the node whose address is on a local
interface. --data-dir overrides the cluster block's data_dir (for several
agents on one machine, as in tests and 'vigil demo').

--join brings a new or rebuilt director into a running cluster: with an
empty data directory it does not bootstrap, but waits until a member runs
'vigil members add NAME' (see vigil members --help).

Signals:
  SIGTERM, SIGINT  release every VIP (priority-0 advert, the release recorded
                   in the cluster so another director takes over at once), exit
  SIGHUP           re-read FILE, validate it and, if it changed, apply it
                   cluster-wide as 'vigil config apply FILE' does

Exit status: 0 after a clean shutdown; 1 on a configuration or start-up
error (the message says what to fix); 2 on bad usage.
`

func init() {
	c := &command{name: "agent", summary: "run one director of the cluster", usage: agentUsage}
	c.run = func(args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet(c, stdout, stderr)
		file := fs.String("f", "/etc/vigil/vigil.conf", "the configuration `FILE`")
		node := fs.String("node", "", "the `NAME` of this node in the cluster block (default: the node with a local address)")
		dataDir := fs.String("data-dir", "", "override the cluster block's data_dir with `DIR`")
		join := fs.Bool("join", false, "on an empty data directory, wait to be added (vigil members add) instead of bootstrapping")
		format := fs.String("log-format", "text", "log format: text or json")
		level := fs.String("log-level", "info", "log level: debug, info, warn or error")
		pos, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			fmt.Fprintf(stderr, "vigil agent: unexpected argument %q (the file goes with -f)\n", pos[0])
			return exitError{2}
		}
		log, err := newLogger(stderr, *format, *level)
		if err != nil {
			fmt.Fprintf(stderr, "vigil agent: %v\n", err)
			return exitError{2}
		}
		return runAgent(*file, *node, *dataDir, *join, log, stderr)
	}
	register(c)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// loadCluster reads and validates file and picks the node to run.
func loadCluster(file, node string, stderr io.Writer) (*config.Config, string, error) {
	c, warns, err := config.ParseFile(file)
	for _, w := range warns {
		fmt.Fprintf(stderr, "%s:%d:%d: warning: %s: %s\n", w.Pos.File, w.Pos.Line, w.Pos.Col, w.Keyword, w.Msg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w\nfix the errors above (vigil config check %s lists them)", err, file)
	}
	if c.Cluster == nil {
		return nil, "", fmt.Errorf(`%s is a plain keepalived.conf: the agent needs a cluster block naming the directors, e.g.
    cluster {
        name edge-lb
        node d1 { address 10.0.0.11 }   # one address per heartbeat link
        node d2 { address 10.0.0.12 }
        node d3 { address 10.0.0.13 }
    }
(vigil config import d1.conf d2.conf d3.conf writes one from your per-node files)`, file)
	}
	if node == "" {
		var addrs []net.IP
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, "", fmt.Errorf("list local addresses to find this node: %w (pass --node NAME)", err)
		}
		for _, a := range ifaddrs {
			if n, ok := a.(*net.IPNet); ok {
				addrs = append(addrs, n.IP)
			}
		}
		if node, err = c.LocalNode(addrs); err != nil {
			return nil, "", fmt.Errorf("%w (pass --node NAME)", err)
		}
	}
	return c, node, nil
}

func runAgent(file, node, dataDir string, join bool, log *slog.Logger, stderr io.Writer) error {
	c, node, err := loadCluster(file, node, stderr)
	if err != nil {
		return err
	}
	if dataDir != "" {
		c.Cluster.DataDir = dataDir
	}
	setup, err := agent.FromConfig(c, node)
	if err != nil {
		return err
	}
	setup.Agent.ConfigText = config.Format(c.Tree)
	setup.Agent.Join = join
	log = log.With("node", node)
	d, err := agent.OpenDirector(setup, log)
	if err != nil {
		return fmt.Errorf("start director %s: %w", node, err)
	}
	ln, err := net.Listen("tcp", c.Cluster.APIListen)
	if err != nil {
		d.Close()
		return fmt.Errorf("API: listen on %s: %w (set api_listen in the cluster block)", c.Cluster.APIListen, err)
	}
	srv := &http.Server{Handler: d.Agent.APIHandler(c.Cluster.APIToken), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "err", err)
		}
	}()
	defer srv.Close()
	log.Info("director started", "cluster", c.Cluster.Name, "api", ln.Addr().String(), "data_dir", c.Cluster.DataDir)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(d.Agent, file, node, c, log, stderr)
			}
		}
	}()
	err = d.Run(ctx)
	if errors.Is(err, context.Canceled) {
		log.Info("director stopped")
		return nil
	}
	return err
}

// reload re-reads the file on SIGHUP. It validates it and reports a
// change; it never applies a half-valid file.
func reload(d *agent.Agent, file, node string, running *config.Config, log *slog.Logger, stderr io.Writer) {
	c, _, err := loadCluster(file, node, stderr)
	if err != nil {
		log.Error("SIGHUP: the new configuration is invalid; nothing changed", "file", file, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	text := config.Format(c.Tree)
	if text == config.Format(running.Tree) {
		log.Info("SIGHUP: configuration unchanged", "file", file)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := d.ApplyConfig(ctx, text)
	if err != nil {
		log.Error("SIGHUP: the new configuration was not applied; nothing changed", "file", file, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	log.Info("SIGHUP: applied the new configuration cluster-wide", "file", file, "version", res.Version)
}
