package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/test/netns"
)

// Tests that run scripts and watch links: Linux only (process groups and
// WNOWAIT reaping, /proc, network namespaces).

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 200 {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("process %d still running", pid)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	for range 200 {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func TestMiscCheck(t *testing.T) {
	dir := t.TempDir()
	code := writeScript(t, dir, "code.sh", `exit "$1"`)
	tests := []struct {
		cmd     string
		dynamic bool
		up      bool
		weight  int
		hasW    bool
	}{
		{cmd: code + " 0", up: true},
		{cmd: code + " 1"},
		{cmd: code + " 7"},
		{cmd: code + " 0", dynamic: true, up: true},
		{cmd: code + " 1", dynamic: true},
		{cmd: code + " 7", dynamic: true, up: true, weight: 5, hasW: true},
		{cmd: code + " 255", dynamic: true, up: true, weight: 253, hasW: true},
		{cmd: `"` + code + `" '2'`, dynamic: true, up: true, weight: 0, hasW: true},
	}
	for _, tt := range tests {
		r := probe(t, CheckSpec{Kind: KindMisc, MiscPath: tt.cmd, MiscDynamic: tt.dynamic}, 5*time.Second)
		if r.Up != tt.up || r.HasWeight != tt.hasW || r.Weight != tt.weight {
			t.Errorf("%s dynamic=%t: %v, want up=%t weight=%d/%t", tt.cmd, tt.dynamic, r, tt.up, tt.weight, tt.hasW)
		}
	}
}

func TestScriptTimeoutKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "child.pid")
	sh := writeScript(t, dir, "hang.sh", "sleep 1000 &\necho $! > "+pidfile+"\nsleep 1000")
	s, err := NewScript(ScriptSpec{Command: sh})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	st := s.Run(ctx)
	if !st.TimedOut || !errors.Is(st.Err, ErrScriptTimeout) {
		t.Fatalf("Run = %+v, want a timeout", st)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Run returned after %v", el)
	}
	waitGone(t, readPid(t, pidfile))
	assertNoChildren(t)
}

func TestScriptBackgroundChildKilledOnExit(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "child.pid")
	sh := writeScript(t, dir, "bg.sh", "sleep 1000 &\necho $! > "+pidfile+"\nexit 0")
	r := probe(t, CheckSpec{Kind: KindMisc, MiscPath: sh}, 5*time.Second)
	wantUp(t, "bg.sh", r)
	waitGone(t, readPid(t, pidfile))
	assertNoChildren(t)
}

func assertNoChildren(t *testing.T) {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			t.Errorf("child process left behind: %s", s[:min(len(s), 80)])
		}
	}
}

func TestScriptUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is 0700
	sh := writeScript(t, dir, "id.sh", "id -u > "+out+"; id -g >> "+out)
	s, err := NewScript(ScriptSpec{Command: sh, User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Run(context.Background()); st.Exit != 0 {
		t.Fatalf("Run: %+v", st)
	}
	b, _ := os.ReadFile(out)
	if got := strings.Fields(string(b)); len(got) != 2 || got[0] != "65534" {
		t.Errorf("ran as %q, want uid 65534 (nobody)", got)
	}
}

func TestScriptSecurity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the rule is about scripts run as root")
	}
	base := t.TempDir()
	safe := writeScript(t, base, "safe.sh", "exit 0")
	if _, err := NewScript(ScriptSpec{Command: safe, Security: true}); err != nil {
		t.Fatalf("safe script refused: %v", err)
	}

	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777) // world-writable, no sticky bit
	inOpen := writeScript(t, open, "x.sh", "exit 0")

	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o777)
	os.Chmod(sticky, os.ModeSticky|0o777) // like /tmp: fine
	inSticky := writeScript(t, sticky, "x.sh", "exit 0")

	ww := writeScript(t, base, "ww.sh", "exit 0")
	os.Chmod(ww, 0o757)
	owned := writeScript(t, base, "owned.sh", "exit 0")
	os.Chown(owned, 65534, 0)

	tests := []struct {
		path string
		ok   bool
		why  string
	}{
		{inOpen, false, "world-writable"},
		{inSticky, true, ""},
		{ww, false, "world-writable"},
		{owned, false, "owned by uid 65534"},
	}
	for _, tt := range tests {
		_, err := NewScript(ScriptSpec{Command: tt.path, Security: true})
		if tt.ok && err != nil {
			t.Errorf("%s refused: %v", tt.path, err)
		}
		if !tt.ok && (!errors.Is(err, ErrUnsafeScript) || !strings.Contains(err.Error(), tt.why)) {
			t.Errorf("%s: %v, want ErrUnsafeScript (%s)", tt.path, err, tt.why)
		}
		// Without enable_script_security all run; as a non-root user too.
		if _, err := NewScript(ScriptSpec{Command: tt.path}); err != nil {
			t.Errorf("%s without security: %v", tt.path, err)
		}
		if _, err := NewScript(ScriptSpec{Command: tt.path, Security: true, User: "nobody"}); err != nil {
			t.Errorf("%s as nobody: %v", tt.path, err)
		}
	}
	_, err := New(CheckSpec{Kind: KindMisc, MiscPath: ww, ScriptSecurity: true})
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "misc_path" || !errors.Is(err, ErrUnsafeScript) {
		t.Errorf("MISC_CHECK with an unsafe script: %v", err)
	}
}

func TestDriverMiscCheck(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writeAtomic(t, state, "0")
	sh := writeScript(t, dir, "check.sh", `exit "$(cat `+state+`)"`)
	spec := CheckSpec{Kind: KindMisc, MiscPath: sh, MiscDynamic: true}
	tm := fastTiming(&spec, 0)
	c, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	d, acts := newTestDriver(t)
	d.Add(ServerSpec{ID: "m", Weight: 1, Omega: true, NotifyDown: "omega-down", Checks: []Timing{tm}}, []Checker{c})
	runDriver(t, d, acts)
	nextState(t, acts, "m")
	writeAtomic(t, state, "1")
	if a := nextState(t, acts, "m"); a.Up {
		t.Fatalf("exit 1: %v", a)
	}
	writeAtomic(t, state, "12")
	if a := nextState(t, acts, "m"); !a.Up || a.Weight != 10 {
		t.Fatalf("exit 12 with misc_dynamic: %v, want up weight 10", a)
	}
	writeAtomic(t, state, "0")
	if a := nextState(t, acts, "m"); !a.Up || a.Weight != 1 {
		t.Fatalf("exit 0: %v, want the configured weight back", a)
	}
}

func TestScriptTracker(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writeAtomic(t, state, "0")
	pidfile := filepath.Join(dir, "child.pid")
	// exit 0/1 as the state file says; "hang" forks a sleeper and hangs.
	sh := writeScript(t, dir, "chk.sh", `s=$(cat `+state+`)
if [ "$s" = hang ]; then sleep 1000 & echo $! > `+pidfile+`; sleep 1000; fi
exit "$s"`)
	tr, err := NewScriptTracker(ScriptTrackerSpec{Name: "chk", Script: ScriptSpec{Command: sh, Security: true},
		Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond, Weight: -20, Rise: 2, Fall: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNoChildren(t) }) // runs after collect stopped the tracker
	ch := collect(t, tr.Run)
	if s := nextStatus(t, ch); !s.OK || s.Delta != 0 || s.Fault {
		t.Fatalf("initial %+v, want OK", s)
	}
	writeAtomic(t, state, "1")
	if s := nextStatus(t, ch); s.OK || s.Delta != -20 || s.Fault {
		t.Fatalf("after failures %+v, want KO with -20", s)
	}
	writeAtomic(t, state, "0")
	if s := nextStatus(t, ch); !s.OK || s.Delta != 0 {
		t.Fatalf("after successes %+v, want OK", s)
	}
	writeAtomic(t, state, "hang")
	if s := nextStatus(t, ch); s.OK {
		t.Fatalf("hung script %+v, want KO after two timeouts", s)
	}
	waitGone(t, readPid(t, pidfile))

	if _, err := NewScriptTracker(ScriptTrackerSpec{Name: "x", Script: ScriptSpec{Command: filepath.Join(dir, "missing")}}); err == nil {
		t.Error("missing script accepted")
	}
	if _, err := NewScriptTracker(ScriptTrackerSpec{Name: "x", Script: ScriptSpec{Command: sh}, Weight: 300}); err == nil {
		t.Error("weight 300 accepted")
	}
}

func TestLinkTracker(t *testing.T) {
	lab := netns.New(t)
	lan := lab.Bridge("lan")
	h := lab.Host("d1")
	eth0 := h.Link(lan, "eth0", "10.9.0.1/24")
	h.Link(lan, "eth1", "10.9.1.1/24")
	tr, err := NewLinkTracker(LinkTrackerSpec{NetNS: "/run/netns/" + h.Namespace(), Links: []LinkTrack{
		{Name: "eth0"},               // fault while down
		{Name: "eth1", Weight: -30},  // -30 while down
		{Name: "nosuch", Weight: 10}, // missing: down, no bonus
	}})
	if err != nil {
		t.Fatal(err)
	}
	ch := collect(t, tr.Run)
	// Carrier comes up a moment after the links are made: wait for it.
	initial := map[string]TrackStatus{}
	for len(initial) < 3 || !initial["eth0"].OK || !initial["eth1"].OK {
		s := nextStatus(t, ch)
		initial[s.Name] = s
	}
	if !initial["eth0"].OK || initial["eth0"].Fault || !initial["eth1"].OK || initial["eth1"].Delta != 0 ||
		initial["nosuch"].OK || initial["nosuch"].Delta != 0 {
		t.Fatalf("initial: %+v", initial)
	}
	if err := eth0.Down(); err != nil { // carrier lost
		t.Fatal(err)
	}
	if s := nextStatus(t, ch); s.Name != "eth0" || s.OK || !s.Fault {
		t.Fatalf("eth0 cable pulled: %+v, want fault", s)
	}
	eth0.Up()
	if s := nextStatus(t, ch); s.Name != "eth0" || !s.OK || s.Fault {
		t.Fatalf("eth0 back: %+v", s)
	}
	h.MustRun("ip", "link", "set", "eth1", "down")
	if s := nextStatus(t, ch); s.Name != "eth1" || s.OK || s.Delta != -30 {
		t.Fatalf("eth1 down: %+v, want -30", s)
	}
	h.MustRun("ip", "link", "set", "eth1", "up")
	if s := nextStatus(t, ch); s.Name != "eth1" || !s.OK {
		t.Fatalf("eth1 up: %+v", s)
	}
	h.MustRun("ip", "link", "del", "eth1")
	if s := nextStatus(t, ch); s.Name != "eth1" || s.OK {
		t.Fatalf("eth1 deleted: %+v", s)
	}
}
