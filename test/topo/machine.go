package topo

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine says when and where a measurement ran, for the Markdown that
// keeps its results: the date (UTC), the host name, the cores and the CPU
// model (/proc/cpuinfo), the kernel release.
func Machine() string {
	host, _ := os.Hostname()
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %s, %d cores (%s), kernel %s", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), cpu, kernel)
}
