// Command failover measures, in one run and on the same network-namespace
// topology (three directors on a LAN and a heartbeat network, a client on
// the LAN), how long a client is cut off from a VIP when its holder dies
// (kill -9) under vigil and under keepalived, and how long a planned
// vigil handover (vigil transfer) leaves the VIP unanswered; then resident
// memory, and health checks per second per core (health.go). It prints one
// table with medians, 99th percentiles and ratios, and writes it as
// Markdown with the date and machine.
//
// It is `make bench`'s failover part; it needs root, the vigil sources
// (it builds the binary) and keepalived.
//
//	go run ./test/bench/failover [-n 20] [-health 60s] [-out bin/bench-failover.md]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vigil/config"
	"vigil/test/netns"
	"vigil/test/topo"
)

func main() {
	n := flag.Int("n", 20, "trials per system")
	out := flag.String("out", "bin/bench-failover.md", "write the table as Markdown to this `FILE`")
	flag.BoolVar(&vigilOnly, "vigil-only", false, "measure vigil only (no keepalived rows, no memory rows): for tuning")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "failover: needs root (network namespaces): run it as root, e.g. sudo make bench")
		os.Exit(1)
	}
	t := &netns.Standalone{}
	err := t.Run(func() { run(t, *n, *out) })
	t.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

// section runs f on a lab of its own, removed when f returns or fails.
func section(f func(l *lab)) {
	bt := &netns.Standalone{}
	defer bt.Close()
	f(newLab(bt, "vgbench"))
}

// vigilOnly skips the keepalived and memory sections (-vigil-only).
var vigilOnly bool

type row struct {
	name   string
	trials []time.Duration
}

func run(t *netns.Standalone, n int, out string) {
	dir, err := os.MkdirTemp("", "vigil-bench")
	if err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, err := topo.BuildVigil(dir)
	if err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}

	var rows []row
	var transfers, applies []time.Duration
	var mem []memRow
	for _, p := range []struct{ label, timing string }{
		{fmt.Sprintf("vigil, kill -9 of the holder (default: lease %v, heartbeat %v)", config.DefaultLease, config.DefaultHeartbeat), ""},
		{"vigil, kill -9 of the holder (fast profile: lease 300ms, heartbeat 100ms)", "    lease 0.3\n    heartbeat 0.1\n"},
	} {
		progress(p.label)
		section(func(l *lab) {
			v := startVigil(l, bin, filepath.Join(dir, fmt.Sprintf("vigil-state%d", len(rows))), p.timing)
			rows = append(rows, row{p.label, trials(l, n, &v.procs)})
			if p.timing == "" {
				transfers = v.transfers(l, min(n, 10))
				applies = v.applies(l, min(n, 10))
				mem = append(mem, memRow{"vigil agent, idle director (one VIP, one service)", idleRSS(&v.procs)})
			}
		})
	}
	if vigilOnly {
		fmt.Print("\n" + render(rows, transfers, applies, n))
		return
	}
	for _, k := range []struct {
		label   string
		version int
		advert  string
	}{{"keepalived, kill -9 of the master (VRRPv2, advert_int 1)", 2, "1"}, {"keepalived, kill -9 of the master (VRRPv3, advert_int 0.1)", 3, "0.1"}} {
		progress(k.label)
		section(func(l *lab) {
			ka := startKeepalived(l, filepath.Join(dir, fmt.Sprintf("ka%d", k.version)), k.version, k.advert)
			rows = append(rows, row{k.label, trials(l, n, &ka.procs)})
			if k.version == 2 {
				mem = append(mem, memRow{"keepalived, idle backup (one VRRP instance)", idleRSS(&ka.procs)})
			}
		})
	}
	progress("vigil with 1,000 virtual servers (memory)")
	section(func(l *lab) {
		mem = append(mem, memRow{"vigil agent, director with 1,000 virtual servers", vigilWith1000(l, bin, filepath.Join(dir, "vigil-1000"))})
	})
	progress("nftables datapath, 10,000 services: vigil against nft -f")
	dp := measureDatapath(dir, min(n, 5), 2)
	table := render(rows, transfers, applies, n)
	table += renderMem(mem) + healthTable(dir) + renderDatapath(dp)
	fmt.Print("\n" + table)
	if out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
			writeFile(out, table)
			fmt.Printf("\nwritten to %s\n", out)
		}
	}
}

// trials kills whichever director answers for the VIP, n times, and
// measures from the kill until a new TCP connection from the client is
// answered by another director. The killed director is restarted and the
// cluster left to settle between trials.
func trials(l *lab, n int, sys *procs) []time.Duration {
	start, kill := sys.start, sys.kill
	var out []time.Duration
	for i := range n {
		holder, _, err := l.waitAnswer(60*time.Second, func(string) bool { return true })
		if err != nil {
			panic(netns.Failure{Msg: "before trial: " + err.Error()})
		}
		t0 := time.Now()
		kill(holder)
		if _, _, err := l.waitAnswer(60*time.Second, func(s string) bool { return s != holder }); err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("trial %d: after killing %s: %v\n%s", i+1, holder, err, sys.dump())})
		}
		d := time.Since(t0)
		out = append(out, d)
		fmt.Printf("  trial %2d: %-3s killed, another director answered after %v\n", i+1, holder, d.Round(time.Millisecond))
		start(holder)
		settle(l)
	}
	return out
}

// settle waits until the same director has answered for 2 s in a row.
func settle(l *lab) {
	deadline := time.Now().Add(30 * time.Second)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		got := l.ask()
		if got != last || got == "" {
			last, since = got, time.Now()
		}
		if got != "" && time.Since(since) > 2*time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func progress(what string) { fmt.Printf("== %s\n", what) }

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

func render(rows []row, transfers, applies []time.Duration, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Failover, vigil against keepalived\n\n%s; %d trials each, same namespace topology\n(three directors on a LAN and a heartbeat network, a client on the LAN).\n\n",
		topo.Machine(), n)
	fmt.Fprintln(&b, "| measure | median | p99 | vs vigil (median) |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	base := quantile(rows[0].trials, 0.5)
	for _, r := range rows {
		med := quantile(r.trials, 0.5)
		fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %.2f× |\n", r.name, med.Seconds(), quantile(r.trials, 0.99).Seconds(), med.Seconds()/base.Seconds())
	}
	if len(transfers) > 0 {
		fmt.Fprintf(&b, "| vigil, planned transfer (vigil transfer): longest time no director answered ARP | %.0f ms | %.0f ms | |\n",
			float64(quantile(transfers, 0.5).Microseconds())/1000, float64(quantile(transfers, 0.99).Microseconds())/1000)
	}
	if len(applies) > 0 {
		fmt.Fprintf(&b, "| vigil config apply (a real server's weight): from the command to applied on all three directors | %.0f ms | %.0f ms | |\n",
			float64(quantile(applies, 0.5).Microseconds())/1000, float64(quantile(applies, 0.99).Microseconds())/1000)
	}
	fmt.Fprintln(&b, "\nFailover: from the kill -9 until a new TCP connection from the client to the VIP is answered by another director (polled every 20 ms).")
	fmt.Fprintln(&b, "keepalived has no protection against split brain in any of these settings; vigil keeps its lease guarantee in all of them.")
	return b.String()
}

func renderMem(mem []memRow) string {
	if len(mem) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintln(&b, "\n| resident memory | MiB |")
	fmt.Fprintln(&b, "|---|---|")
	for _, m := range mem {
		fmt.Fprintf(&b, "| %s | %.1f |\n", m.name, float64(m.bytes)/(1<<20))
	}
	return b.String()
}
