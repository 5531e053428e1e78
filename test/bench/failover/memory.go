package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

// rss is the resident memory of a process and its descendants, from
// /proc (keepalived runs a parent and a VRRP child).
func rss(pid int) int64 {
	total := int64(0)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb * 1024
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, c := range strings.Fields(string(b)) {
			if cp, err := strconv.Atoi(c); err == nil {
				total += rss(cp)
			}
		}
	}
	return total
}

// memRow is one resident-memory measurement.
type memRow struct {
	name  string
	bytes int64
}

// idleRSS is the resident memory of director d2 (not the holder) after
// the cluster settled for 5 s.
func idleRSS(s *procs) int64 {
	time.Sleep(5 * time.Second)
	return rss(s.Proc("d2").Cmd.Process.Pid)
}

// vigilWith1000 starts vigil with 1,000 virtual servers of 2 real servers
// each (no checkers) and measures a director once they are programmed.
func vigilWith1000(l *lab, bin, dir string) int64 {
	var b strings.Builder
	v := &vigilSys{th: l.Three, bin: bin, conf: filepath.Join(dir, "vigil.conf")}
	b.WriteString(v.text(1))
	for i := range 1000 {
		fmt.Fprintf(&b, "virtual_server 10.98.%d.%d 80 {\n    lvs_sched mh\n    lvs_method NAT\n    protocol TCP\n    real_server 192.168.97.60 80 {\n        weight 1\n    }\n    real_server 192.168.97.61 80 {\n        weight 1\n    }\n}\n", i/250, i%250+1)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	writeFile(v.conf, b.String())
	v.procs = procs{topo.Vigil(l.Three, bin, v.conf, dir, "warn")}
	for _, n := range names {
		v.start(n)
	}
	if _, _, err := l.waitAnswer(60*time.Second, func(string) bool { return true }); err != nil {
		panic(netns.Failure{Msg: "vigil with 1,000 services: " + err.Error() + "\n" + v.dump()})
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := l.d["d2"].Run("nft", "list", "map", "ip", "vigil", "services")
		if strings.Count(out, "10.98.") >= 1000 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	return idleRSS(&v.procs)
}
