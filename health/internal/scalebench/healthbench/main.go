// Command healthbench measures the health driver at keepalived scale: by
// default 10,000 TCP_CHECKs with delay_loop 1 s for a sustained minute,
// against listeners in a child process, and prints the CPU and memory the
// checking process used. Targets: under one core and under 200 MB resident.
//
//	go run ./health/internal/scalebench/healthbench [-checks 10000] [-duration 60s] [-json]
//
// With -json it prints the scalebench.Report as one JSON object instead
// (make bench's table reads it).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"time"

	"vigil/health/internal/scalebench"
)

func main() {
	serve := flag.Int("serve", 0, "internal: be the server process with this many listeners")
	checks := flag.Int("checks", 10000, "number of TCP_CHECKs (one real server each)")
	servers := flag.Int("servers", 200, "number of listening ports they spread over")
	loop := flag.Duration("delay-loop", time.Second, "delay_loop")
	timeout := flag.Duration("timeout", 3*time.Second, "connect_timeout")
	dur := flag.Duration("duration", time.Minute, "how long to measure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.Parse()
	if *serve > 0 {
		if err := scalebench.Serve(*serve, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "healthbench serve:", err)
			os.Exit(1)
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthbench:", err)
		os.Exit(1)
	}
	srv, err := scalebench.StartServers(exec.Command(exe, "-serve", strconv.Itoa(*servers)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthbench:", err)
		os.Exit(1)
	}
	defer srv.Stop()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "healthbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "healthbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("healthbench: %d TCP_CHECKs, delay_loop %v, %d listeners; settling %v, measuring %v\n",
		*checks, *loop, len(srv.Addrs), *loop*2, *dur)
	r, err := scalebench.Run(ctx, scalebench.Config{Checks: *checks, DelayLoop: *loop, Timeout: *timeout,
		Settle: *loop * 2, Duration: *dur}, srv.Addrs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthbench:", err)
		return
	}
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "healthbench:", err)
		}
		return
	}
	fmt.Println(r)
	verdict := "PASS"
	if r.CPUCores >= 1 || r.RSSMB >= 200 || r.PeakRSSMB >= 200 {
		verdict = "OVER TARGET"
	}
	fmt.Printf("target: < 1 core and < 200 MB resident: %s\n", verdict)
}
