package topo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"vigil/test/netns"
)

// Daemons is one daemon per director (vigil agents, or keepalived), each
// in its director's namespace and process group, that can be killed,
// started again and paused.
type Daemons struct {
	Label string // "vigil", "keepalived": names them in messages
	th    *Three
	argv  func(node string) []string

	mu    sync.Mutex
	procs map[string]*netns.Proc // nil once killed
}

// NewDaemons prepares daemons started by argv(node); none runs yet.
func NewDaemons(th *Three, label string, argv func(node string) []string) *Daemons {
	return &Daemons{Label: label, th: th, argv: argv, procs: map[string]*netns.Proc{}}
}

// Start starts node's daemon, with extra arguments if given.
func (d *Daemons) Start(node string, extra ...string) {
	p := d.th.D[node].Host.Start(append(d.argv(node), extra...)...)
	d.mu.Lock()
	d.procs[node] = p
	d.mu.Unlock()
}

// Proc is node's running daemon, nil when killed or never started.
func (d *Daemons) Proc(node string) *netns.Proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.procs[node]
}

// Running reports whether node's daemon runs (paused counts as running).
func (d *Daemons) Running(node string) bool { return d.Proc(node) != nil }

// Kill sends SIGKILL to node's daemon and its children and reaps it; a
// daemon not running is left alone.
func (d *Daemons) Kill(node string) error {
	p := d.Proc(node)
	if p == nil {
		return nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s on %s: %w", d.Label, node, err)
	}
	_ = p.Cmd.Wait()
	d.mu.Lock()
	d.procs[node] = nil
	d.mu.Unlock()
	return nil
}

// Signal sends sig to node's daemon and its children (SIGSTOP, SIGCONT);
// a daemon not running is left alone.
func (d *Daemons) Signal(node string, sig syscall.Signal) error {
	p := d.Proc(node)
	if p == nil {
		return nil
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("signal %v to %s on %s: %w", sig, d.Label, node, err)
	}
	return nil
}

// Dump is what the running daemons wrote, the last tail bytes of each (0:
// all of it), for a failure message.
func (d *Daemons) Dump(tail int) string {
	var b strings.Builder
	for _, n := range Names {
		p := d.Proc(n)
		if p == nil {
			continue
		}
		out := p.Output()
		if tail > 0 && len(out) > tail {
			out = "..." + out[len(out)-tail:]
		}
		fmt.Fprintf(&b, "--- %s on %s ---\n%s\n", d.Label, n, out)
	}
	return b.String()
}

// KeepalivedArgv runs keepalived's VRRP process in the foreground with the
// configuration conf, logging to the console, its pid files named
// pidPrefix.*.pid.
func KeepalivedArgv(conf, pidPrefix string) []string {
	pid := func(s string) string { return pidPrefix + "." + s + ".pid" }
	return []string{"keepalived", "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
		"--use-file", conf, "--pid", pid("main"), "--vrrp_pid", pid("vrrp"),
		"--checkers_pid", pid("checkers"), "--bfd_pid", pid("bfd")}
}

// Keepalived writes one keepalived configuration per director under dir
// (VRRP version, advert_int advert, priorities 100, 99, 98, all starting
// as BACKUP, the VIP on the LAN) and returns their daemons, not started.
func Keepalived(th *Three, dir string, version int, advert string) (*Daemons, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("topo: keepalived: %w", err)
	}
	for i, n := range Names {
		conf := fmt.Sprintf(`global_defs {
    router_id %s
    vrrp_version %d
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int %s
    virtual_ipaddress {
        %s/24
    }
}
`, n, version, 100-i, advert, th.Net.VIP())
		if err := os.WriteFile(filepath.Join(dir, n+".conf"), []byte(conf), 0o644); err != nil {
			return nil, fmt.Errorf("topo: keepalived: %w", err)
		}
	}
	var mu sync.Mutex
	starts := map[string]int{}
	return NewDaemons(th, "keepalived", func(n string) []string {
		// Fresh pid files on every start: a killed keepalived's VRRP child
		// may linger as a zombie where PID 1 does not reap, and keepalived
		// would then refuse to start ("daemon is already running").
		mu.Lock()
		starts[n]++
		k := starts[n]
		mu.Unlock()
		return KeepalivedArgv(filepath.Join(dir, n+".conf"), filepath.Join(dir, fmt.Sprintf("%s.%d", n, k)))
	}), nil
}
