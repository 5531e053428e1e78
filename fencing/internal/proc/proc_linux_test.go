//go:build linux

package proc

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
)

func TestMain(m *testing.M) {
	// Orphans of the scripts below are re-parented to the test process so
	// that Run can reap them and the tests can prove nothing is left.
	if err := SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// gone reports whether pid no longer exists at all (not even a zombie).
func gone(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return os.IsNotExist(err)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		b, err := os.ReadFile(path)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never written", path)
	return 0
}

func TestRunExitStatusAndOutput(t *testing.T) {
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Timeout: 5 * time.Second})
	if !errors.Is(err, ErrExit) {
		t.Fatalf("err = %v, want ErrExit", err)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Op != "run sh" {
		t.Fatalf("err = %#v, want *Error with Op \"run sh\"", err)
	}
	if res.ExitCode != 3 || res.Output != "out\nerr\n" || res.TimedOut {
		t.Fatalf("res = %+v", res)
	}
	if err.Error() != "run sh: exit status 3" {
		t.Fatalf("message %q", err)
	}
}

func TestRunEnvAndSuccess(t *testing.T) {
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", `printf %s "$A"`}, Env: []string{"A=b c"}})
	if err != nil || res.Output != "b c" || res.ExitCode != 0 {
		t.Fatalf("res=%+v err=%v", res, err)
	}
}

func TestRunMissingProgram(t *testing.T) {
	_, err := Run(context.Background(), Spec{Argv: []string{filepath.Join(t.TempDir(), "nope")}})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
	if _, err := Run(context.Background(), Spec{}); err == nil {
		t.Fatal("empty argv accepted")
	}
}

// A hung script that forked a sleeper: both are killed at the timeout and
// both are reaped (no zombie, no orphan).
func TestRunTimeoutKillsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "sleeper")
	script := fmt.Sprintf("sleep 1000 & echo $! > %s; wait", pidf)
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", script}, Timeout: time.Second})
	if !errors.Is(err, ErrTimeout) || !res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("err=%v res=%+v, want a kill at the timeout", err, res)
	}
	sleeper := readPid(t, pidf)
	if !gone(res.Pid) {
		t.Errorf("leader %d still exists", res.Pid)
	}
	if !gone(sleeper) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sleeper))
		t.Errorf("sleeper %d still exists: %s", sleeper, b)
	}
}

// A script that ignores SIGTERM is SIGKILLed after the grace period.
func TestRunTimeoutIgnoringTERM(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "sleeper")
	script := fmt.Sprintf("trap '' TERM; sleep 1000 & echo $! > %s; while :; do sleep 0.05; done", pidf)
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", script}, Timeout: time.Second, KillGrace: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) || res.ExitCode != -1 {
		t.Fatalf("err=%v res=%+v", err, res)
	}
	sleeper := readPid(t, pidf)
	if !gone(res.Pid) || !gone(sleeper) {
		t.Fatalf("leftovers: leader gone=%v sleeper gone=%v", gone(res.Pid), gone(sleeper))
	}
}

// A script that exits leaving a background child: the child does not
// outlive it.
func TestRunExitKillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "sleeper")
	script := fmt.Sprintf("sleep 1000 & echo $! > %s; exit 0", pidf)
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", script}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sleeper := readPid(t, pidf)
	if !gone(sleeper) {
		t.Fatalf("sleeper %d outlived its script", sleeper)
	}
	if res.Reaped < 1 {
		t.Fatalf("Reaped = %d, want >= 1", res.Reaped)
	}
}

func TestRunContextCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Spec{Argv: []string{"sleep", "1000"}})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	res, err := Run(context.Background(), Spec{Argv: []string{"sh", "-c", "id -u; id -g"}, User: "nobody", Group: "nogroup", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "65534\n65534\n" {
		t.Fatalf("output %q, want nobody's ids", res.Output)
	}
	_, err = Run(context.Background(), Spec{Argv: []string{"true"}, User: "no-such-user-vigil"})
	if err == nil || !strings.Contains(err.Error(), `look up user "no-such-user-vigil"`) {
		t.Fatalf("err = %v", err)
	}
}
