//go:build linux

package fencing

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

	"vigil/fencing/internal/proc"
)

func TestMain(m *testing.M) {
	// Orphans of hung hooks are re-parented here so that they are reaped.
	if err := proc.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptFencerArgumentsAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hook := writeScript(t, dir, "hook", fmt.Sprintf(`
for a in "$@"; do printf '[%%s]' "$a" >> %[1]s; done
echo >> %[1]s
echo "$VIGIL_NODE|$VIGIL_INSTANCE|$VIGIL_EPOCH|$VIGIL_REASON" >> %[1]s
`, log))
	f, err := NewScriptFencer(ScriptConfig{Command: []string{hook, "--ipmi", "bmc-d2"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Fence(context.Background(), Request{Node: "d2", Instance: "VI_1", Epoch: 42, Reason: "holder unreachable on all links"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	want := "[--ipmi][bmc-d2][d2][VI_1][42][holder unreachable on all links]\nd2|VI_1|42|holder unreachable on all links\n"
	if string(got) != want {
		t.Fatalf("hook saw\n%s\nwant\n%s", got, want)
	}
}

// A hung hook (which forked a sleeper) is killed with its process group
// at the timeout, and the failure is reported.
func TestScriptFencerHungHookKilled(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "pid")
	hook := writeScript(t, dir, "hook", fmt.Sprintf("sleep 1000 & echo $! > %s\nwait\n", pidf))
	f, err := NewScriptFencer(ScriptConfig{Command: []string{hook}, Timeout: time.Second, KillGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var alerts []Alert
	r := &Retrying{Fencer: f, Policy: RetryPolicy{Attempts: 2, Initial: time.Millisecond}, OnFailure: func(a Alert) { alerts = append(alerts, a) }}
	err = r.Fence(context.Background(), Request{Node: "d2", Instance: "VI_1", Epoch: 5, Reason: "test"})
	if !errors.Is(err, proc.ErrTimeout) || !errors.Is(err, ErrFenceFailed) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if len(alerts) != 2 || !strings.Contains(alerts[0].Evidence["error"], "timed out after 1s") {
		t.Fatalf("alerts %v", alerts)
	}
	b, _ := os.ReadFile(pidf)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatal("hook never wrote its sleeper's pid")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !os.IsNotExist(err) {
		t.Fatalf("sleeper %d survived the hook's timeout", pid)
	}
}

// A hook that fails twice then succeeds: three runs, in order, with the
// right epoch each time, and the required-hook result is OK.
func TestScriptFencerRetriedUntilSuccess(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hook := writeScript(t, dir, "hook", fmt.Sprintf(`
echo "$VIGIL_EPOCH" >> %[1]s
[ $(wc -l < %[1]s) -ge 3 ] || { echo "bmc busy" >&2; exit 1; }
`, log))
	f, err := NewScriptFencer(ScriptConfig{Command: []string{hook}})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	r := &Retrying{Fencer: f, Policy: RetryPolicy{Attempts: 5, Initial: time.Millisecond},
		OnFailure: func(a Alert) { errs = append(errs, a.Evidence["error"]) }}
	op := Start(context.Background(), r, Request{Node: "d2", Instance: "VI_1", Epoch: 77}, nil)
	res, err := op.Wait(context.Background())
	if err != nil || !res.OK || res.Attempts != 3 {
		t.Fatalf("result %+v err %v", res, err)
	}
	got, _ := os.ReadFile(log)
	if string(got) != "77\n77\n77\n" {
		t.Fatalf("hook runs %q", got)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "exit status 1") {
		t.Fatalf("failure alerts %q", errs)
	}
}
