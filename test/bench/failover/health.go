package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"vigil/test/netns"
)

// healthFor is how long the health-check row measures (issue 6: a
// sustained minute).
var healthFor = flag.Duration("health", time.Minute, "measure 10,000 TCP_CHECKs with delay_loop 1 s for this `long` (0: skip the row)")

// healthReport is what healthbench -json prints (scalebench.Report).
type healthReport struct {
	Checks                 int
	ProbesPerSec, CPUCores float64
	RSSMB, PeakRSSMB       float64
	Failed                 int64
	CPUPerProbe, Duration  time.Duration
	MeanProbe              time.Duration
	Transitions            int64
	Goroutines             int
	LastFailure            string
}

// healthTable runs healthbench (vigil's health driver: 10,000 TCP_CHECKs,
// delay_loop 1 s, against listeners in a child process) in a namespace of
// its own, so its 10,000 connections a second have their own loopback
// and port tables, and renders its row: checks per second, per core, CPU
// and resident memory. keepalived's checker needs IPVS, which this
// kernel lacks: vigil only.
func healthTable(dir string) string {
	if *healthFor <= 0 {
		return ""
	}
	progress(fmt.Sprintf("vigil health checks: 10,000 TCP_CHECKs, delay_loop 1 s, for %v", *healthFor))
	bin := filepath.Join(dir, "healthbench")
	if b, err := exec.Command("go", "build", "-o", bin, "vigil/health/internal/scalebench/healthbench").CombinedOutput(); err != nil {
		panic(netns.Failure{Msg: fmt.Sprintf("build healthbench: %v\n%s", err, b)})
	}
	var r healthReport
	bt := &netns.Standalone{}
	defer bt.Close()
	h := netns.NewNamed(bt, "vghealth").Host("checker")
	out, err := h.Run(bin, "-json", "-checks", "10000", "-delay-loop", "1s", "-duration", healthFor.String())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err == nil {
		err = json.Unmarshal([]byte(lines[len(lines)-1]), &r)
	}
	if err != nil || r.CPUCores <= 0 {
		panic(netns.Failure{Msg: fmt.Sprintf("healthbench: %v\n%s", err, out)})
	}
	fmt.Printf("  %d checks: %.0f probes/s, %.2f cores, %.1f MiB resident (peak %.1f), %d failed probes\n",
		r.Checks, r.ProbesPerSec, r.CPUCores, r.RSSMB, max(r.PeakRSSMB, r.RSSMB), r.Failed)
	target := "within"
	if r.CPUCores >= 1 || r.PeakRSSMB >= 200 {
		target = "OVER"
	}
	var b strings.Builder
	fmt.Fprintln(&b, "\n| health checking, sustained | checks/s | CPU | checks/s per core | resident MiB (peak) | failed probes |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	fmt.Fprintf(&b, "| vigil, %d TCP_CHECKs, delay_loop 1 s, %v | %.0f | %.2f cores | %.0f | %.1f (%.1f) | %d |\n",
		r.Checks, r.Duration.Round(time.Second), r.ProbesPerSec, r.CPUCores, r.ProbesPerSec/r.CPUCores, r.RSSMB, max(r.PeakRSSMB, r.RSSMB), r.Failed)
	fmt.Fprintf(&b, "\nHealth checking: issue 6's target is under one core and under 200 MB resident: %s it. CPU is the checking process's\n"+
		"user+system time over the wall time (the listeners run in another process); keepalived's checker needs IPVS, which this kernel lacks.\n", target)
	return b.String()
}
