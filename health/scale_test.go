package health_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"vigil/health/internal/scalebench"
)

// serveEnv makes the test binary the benchmark's server process.
const serveEnv = "VIGIL_HEALTH_BENCH_SERVE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(checkerEnv); spec != "" {
		os.Exit(checkerHelper(spec))
	}
	if n, _ := strconv.Atoi(os.Getenv(serveEnv)); n > 0 {
		if err := scalebench.Serve(n, os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkDriverTCP10k runs 10,000 TCP_CHECKs with delay_loop 1 s against
// listeners in a child process for 10 s and reports the CPU (cores, and
// per probe) and memory of the checking process. The target (issue 6):
// under one core and under 200 MB resident. For the sustained minute, run
// `go run ./health/internal/scalebench/healthbench`.
func BenchmarkDriverTCP10k(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: the scale benchmark runs for 12 s")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serveEnv+"=200")
	srv, err := scalebench.StartServers(cmd)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	var r scalebench.Report
	for b.Loop() {
		r, err = scalebench.Run(context.Background(), scalebench.Config{Checks: 10000, DelayLoop: time.Second,
			Timeout: 3 * time.Second, Settle: 2 * time.Second, Duration: 10 * time.Second}, srv.Addrs)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Log(r)
	b.ReportMetric(r.CPUCores, "cores")
	b.ReportMetric(r.CPUPerProbe.Seconds()*1e6, "cpu-µs/probe")
	b.ReportMetric(r.RSSMB, "rss-MB")
	b.ReportMetric(r.PeakRSSMB, "peak-rss-MB")
	b.ReportMetric(r.ProbesPerSec, "probes/s")
	b.ReportMetric(float64(r.Failed), "failed")
}
