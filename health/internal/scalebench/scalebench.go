// Package scalebench measures the health driver at scale: thousands of
// TCP_CHECKs against real listeners served by a separate process, so that
// the CPU and memory it reports are the checker's alone.
//
// It backs the healthbench program (a sustained run, `make bench`-style)
// and the BenchmarkDriverTCP10k benchmark of package health.
package scalebench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"vigil/health"
)

// Serve is the server process: it listens on n loopback ports, prints one
// address per line, then a blank line, and accepts and closes connections
// until its stdin closes.
func Serve(n int, stdin io.Reader, stdout io.Writer) error {
	var lns []net.Listener
	for i := range n {
		// Spread over 127.0.0.x so that no one address's ephemeral ports run short.
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 1+i%200))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Fprintln(stdout, ln.Addr())
	}
	fmt.Fprintln(stdout)
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				// Wait for the checker's reset before closing: closing first
				// would leave a TIME_WAIT here that collides with the
				// checker's reuse of its ephemeral ports (both ends share
				// this host's tables on loopback) and stalls probes on SYN
				// retransmits; resetting first races the checker's connect.
				// Real servers sit on other hosts.
				go func() {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					var b [1]byte
					_, _ = c.Read(b[:])
					c.Close()
				}()
			}
		}()
	}
	_, _ = io.Copy(io.Discard, stdin)
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
	return nil
}

// Servers is a running server process.
type Servers struct {
	Addrs []netip.AddrPort
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartServers runs cmd (a program that calls Serve) and reads the
// addresses it listens on.
func StartServers(cmd *exec.Cmd) (*Servers, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start servers: %w", err)
	}
	s := &Servers{cmd: cmd, stdin: in}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			return s, nil
		}
		a, err := netip.ParseAddrPort(line)
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("servers said %q: %w", line, err)
		}
		s.Addrs = append(s.Addrs, a)
	}
	s.Stop()
	return nil, fmt.Errorf("servers exited before listing their addresses: %v", sc.Err())
}

// Stop ends the server process and reaps it.
func (s *Servers) Stop() {
	s.stdin.Close()
	_ = s.cmd.Wait()
}

// Config is one measurement.
type Config struct {
	Checks    int
	DelayLoop time.Duration
	Timeout   time.Duration
	Settle    time.Duration // run this long before measuring (warmup spreads the first probes over one delay_loop)
	Duration  time.Duration // then measure for this long
}

// Report is what a measurement found.
type Report struct {
	Checks       int
	Duration     time.Duration
	Probes       int64         // probes completed while measuring
	ProbesPerSec float64       // Probes / Duration
	Failed       int64         // probes that failed while measuring
	Transitions  int64         // state actions while measuring (should be 0: every server stays up)
	CPUCores     float64       // user+system CPU time / wall time, whole process
	RSSMB        float64       // resident set at the end
	PeakRSSMB    float64       // peak resident set (getrusage maxrss)
	Goroutines   int           // at the end of the measurement
	LastFailure  string        // the reason of a failed probe, if any
	MeanProbe    time.Duration // from the probe's start to its result (grows when the machine is loaded)
	// CPUPerProbe is the process's CPU time per completed probe: the
	// load-independent cost; × 10,000 probes/s it gives the cores needed
	// for 10,000 checks at delay_loop 1 s.
	CPUPerProbe time.Duration
}

func (r Report) String() string {
	return fmt.Sprintf("checks=%d duration=%v probes/s=%.0f failed=%d transitions=%d mean_probe=%v cpu=%.3f cores cpu_per_probe=%v (%.2f cores at 10k probes/s) rss=%.1f MB peak_rss=%.1f MB goroutines=%d",
		r.Checks, r.Duration, r.ProbesPerSec, r.Failed, r.Transitions, r.MeanProbe.Round(time.Microsecond), r.CPUCores, r.CPUPerProbe.Round(time.Microsecond), r.CPUPerProbe.Seconds()*10000, r.RSSMB, r.PeakRSSMB, r.Goroutines) +
		map[bool]string{true: "", false: " last_failure=" + strconv.Quote(r.LastFailure)}[r.LastFailure == ""]
}

type counting struct {
	health.Checker
	probes, failed *atomic.Int64
	last           *atomic.Value
	nanos          *atomic.Int64
}

func (c counting) Check(ctx context.Context) health.Result {
	start := time.Now()
	r := c.Checker.Check(ctx)
	c.nanos.Add(int64(time.Since(start)))
	c.probes.Add(1)
	if !r.Up {
		c.failed.Add(1)
		c.last.Store(r.Reason)
	}
	return r
}

// Run checks cfg.Checks real servers spread over addrs with one TCP_CHECK
// each, and measures the process while it runs.
func Run(ctx context.Context, cfg Config, addrs []netip.AddrPort) (Report, error) {
	var probes, failed, transitions atomic.Int64
	var last atomic.Value
	var nanos atomic.Int64
	d := health.NewDriver(health.DriverConfig{OnAction: func(a health.Action) {
		if a.Kind == health.ActState && !a.Initial {
			transitions.Add(1)
		}
	}})
	for i := range cfg.Checks {
		spec := health.CheckSpec{Kind: health.KindTCP, Target: addrs[i%len(addrs)],
			DelayLoop: cfg.DelayLoop, ConnectTimeout: cfg.Timeout}
		c, err := health.New(spec)
		if err != nil {
			return Report{}, err
		}
		id := health.ServerID(strconv.Itoa(i))
		if err := d.Add(health.ServerSpec{ID: id, Weight: 1, Checks: []health.Timing{spec.Resolved()}},
			[]health.Checker{counting{c, &probes, &failed, &last, &nanos}}); err != nil {
			return Report{}, err
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer func() { cancel(); <-done }()

	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	p0, f0, t0, n0 := probes.Load(), failed.Load(), transitions.Load(), nanos.Load()
	cpu0, start := cpuTime(), time.Now()
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	wall := time.Since(start)
	r := Report{Checks: cfg.Checks, Duration: wall.Round(time.Millisecond),
		Probes: probes.Load() - p0, Failed: failed.Load() - f0, Transitions: transitions.Load() - t0,
		CPUCores: (cpuTime() - cpu0).Seconds() / wall.Seconds(), Goroutines: runtime.NumGoroutine()}
	r.ProbesPerSec = float64(r.Probes) / wall.Seconds()
	if r.Probes > 0 {
		r.MeanProbe = time.Duration((nanos.Load() - n0) / r.Probes)
		r.CPUPerProbe = time.Duration(r.CPUCores * float64(wall) / float64(r.Probes))
	}
	r.RSSMB, r.PeakRSSMB = rss()
	if l, ok := last.Load().(string); ok {
		r.LastFailure = l
	}
	return r, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss returns the current resident set (from /proc when there is one) and
// the peak (getrusage, kilobytes on Linux).
func rss() (cur, peak float64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	peak = float64(ru.Maxrss) / 1024
	cur = peak
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				cur = float64(pages*int64(os.Getpagesize())) / (1 << 20)
			}
		}
	}
	return cur, peak
}
