//go:build linux

package notify

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/test/netns"
)

// Real keepalived 2.2.7 and vigil, given the same notify script and FIFO,
// for the same transitions (BACKUP at start, MASTER, STOP at shutdown):
// the script sees the same argv and the FIFO reader the same lines.
func TestSameAsKeepalived(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	ka := lab.Host("ka")
	ka.Link(lan, "eth0", "10.0.0.2/24")
	dir := t.TempDir()

	kaLog := filepath.Join(dir, "keepalived.notify")
	kaMaster := filepath.Join(dir, "keepalived.master")
	notifyScript := writeScript(t, dir, "notify.sh", "echo \"$*\" >> \"$1\"\n")
	masterScript := writeScript(t, dir, "master.sh", "echo \"$*\" >> \"$1\"\n")
	fifoPath := filepath.Join(dir, "vrrp.fifo")
	if err := syscall.Mkfifo(fifoPath, 0o600); err != nil {
		t.Fatal(err)
	}
	kaFIFO := readFIFO(t, fifoPath)

	conf := fmt.Sprintf(`global_defs {
  router_id ka
  script_user root
  vrrp_notify_fifo %s
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 100
  advert_int 1
  notify "%s %s"
  notify_master "%s %s"
  virtual_ipaddress {
    10.0.0.200/24
  }
}
`, fifoPath, notifyScript, kaLog, masterScript, kaMaster)
	confPath := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := ka.Start("keepalived", "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
		"--use-file", confPath, "--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"), "--checkers_pid", filepath.Join(dir, "checkers.pid"),
		"--bfd_pid", filepath.Join(dir, "bfd.pid"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keepalived logged:\n%s", p.Output())
		}
	})
	waitFor(t, "keepalived to become MASTER and run its scripts", 30*time.Second, func() bool {
		b, _ := os.ReadFile(kaLog)
		m, _ := os.ReadFile(kaMaster)
		return strings.Contains(string(b), "MASTER") && len(m) > 0
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keepalived's STOP notify", 30*time.Second, func() bool {
		b, _ := os.ReadFile(kaLog)
		return strings.Contains(string(b), "STOP")
	})
	kaLines := lines(t, kaLog)
	var kaFIFOLines []string
	waitFor(t, "keepalived's FIFO lines up to STOP", 10*time.Second, func() bool {
		for {
			select {
			case l := <-kaFIFO:
				kaFIFOLines = append(kaFIFOLines, l)
			default:
				return len(kaFIFOLines) > 0 && strings.Contains(kaFIFOLines[len(kaFIFOLines)-1], "STOP")
			}
		}
	})
	t.Logf("keepalived notify argv: %q", kaLines)
	t.Logf("keepalived fifo lines:  %q", kaFIFOLines)

	// The transitions keepalived went through, from its own notify lines
	// ("<log> INSTANCE VI_1 STATE PRIO").
	var ts []Transition
	for _, l := range kaLines {
		f := strings.Fields(l)
		if len(f) != 5 || f[1] != "INSTANCE" || f[2] != "VI_1" {
			t.Fatalf("keepalived notify line %q", l)
		}
		var st State
		if err := st.UnmarshalText([]byte(f[3])); err != nil {
			t.Fatal(err)
		}
		prio, _ := strconv.Atoi(f[4])
		ts = append(ts, Transition{Name: "VI_1", State: st, Priority: prio})
	}
	if len(ts) < 3 || ts[0].State != StateBackup || ts[1].State != StateMaster || ts[len(ts)-1].State != StateStop {
		t.Fatalf("keepalived went through %v, want BACKUP, MASTER, ..., STOP", ts)
	}

	// vigil, same scripts, same transitions.
	vgLog := filepath.Join(dir, "vigil.notify")
	vgMaster := filepath.Join(dir, "vigil.master")
	n := NewNotifier(NotifierConfig{Instances: map[string]Scripts{"VI_1": {
		Notify: &Script{Argv: []string{notifyScript, vgLog}},
		Master: &Script{Argv: []string{masterScript, vgMaster}},
	}}})
	vgFIFOPath := filepath.Join(dir, "vigil.fifo")
	if err := syscall.Mkfifo(vgFIFOPath, 0o600); err != nil {
		t.Fatal(err)
	}
	vgFIFO := readFIFO(t, vgFIFOPath)
	x, err := OpenFIFO(FIFOConfig{Path: vgFIFOPath})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		n.Notify(tr)
		x.Notify(tr)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	x.Close()

	// The argv, but for the log path (the first argument).
	strip := func(ls []string) string {
		var out []string
		for _, l := range ls {
			out = append(out, fmt.Sprint(strings.Fields(l)[1:]))
		}
		return strings.Join(out, "\n")
	}
	if got, want := strip(lines(t, vgLog)), strip(kaLines); got != want {
		t.Errorf("notify argv\nvigil:      %s\nkeepalived: %s", got, want)
	}
	// notify_master gets no extra arguments, from either.
	if got, want := strip(lines(t, vgMaster)), strip(lines(t, kaMaster)); got != want || want != "[]" {
		t.Errorf("notify_master argv\nvigil:      %s\nkeepalived: %s", got, want)
	}
	var vgFIFOLines []string
	waitFor(t, "vigil's FIFO lines", 10*time.Second, func() bool {
		for {
			select {
			case l := <-vgFIFO:
				vgFIFOLines = append(vgFIFOLines, l)
			default:
				return len(vgFIFOLines) >= len(ts)
			}
		}
	})
	if strings.Join(vgFIFOLines, "\n") != strings.Join(kaFIFOLines, "\n") {
		t.Errorf("FIFO lines\nvigil:      %q\nkeepalived: %q", vgFIFOLines, kaFIFOLines)
	}
}

// readFIFO reads lines from the named pipe (opened read-write, so that
// writers coming and going do not end the stream) until the test ends.
func readFIFO(t *testing.T, path string) <-chan string {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	t.Cleanup(func() { f.Close() })
	return ch
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
