//go:build linux

package notify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// appendArgs is a script body appending "<tag> <args...>" to log.
func appendArgs(log, tag string) string {
	return fmt.Sprintf("echo \"%s $*\" >> %s\n", tag, log)
}

// A burst of 100 transitions: the scripts' lines are exactly in
// transition order, per-state script before the generic one each time.
func TestNotifierOrderUnderBurst(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	sc := Scripts{
		Master: &Script{Argv: []string{writeScript(t, dir, "master", appendArgs(log, "master")), "VI_1"}},
		Backup: &Script{Argv: []string{writeScript(t, dir, "backup", appendArgs(log, "backup"))}},
		Fault:  &Script{Argv: []string{writeScript(t, dir, "fault", appendArgs(log, "fault"))}},
		Notify: &Script{Argv: []string{writeScript(t, dir, "notify", appendArgs(log, "notify")), "--from-vigil"}},
	}
	n := NewNotifier(NotifierConfig{Instances: map[string]Scripts{"VI_1": sc}, Timeout: 10 * time.Second, QueueLen: 1000})
	states := []State{StateMaster, StateBackup, StateFault}
	var want []string
	for i := 0; i < 100; i++ {
		st := states[i%3]
		n.Notify(Transition{Name: "VI_1", State: st, Priority: i})
		switch st {
		case StateMaster:
			want = append(want, "master VI_1")
		default:
			want = append(want, strings.ToLower(st.String())+" ")
		}
		want = append(want, fmt.Sprintf("notify --from-vigil INSTANCE VI_1 %s %d", st, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if strings.TrimSpace(got[i]) != strings.TrimSpace(want[i]) {
			t.Fatalf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	if st := n.Stats(); st.Ran != 200 || st.Failed != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Instances do not wait for each other: VI_2's scripts run while VI_1's
// script is blocked, and VI_1's next transition still waits its turn.
func TestNotifierInstancesRunConcurrently(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	gate := filepath.Join(dir, "gate")
	blocker := writeScript(t, dir, "block", fmt.Sprintf("echo \"VI_1 $1 start\" >> %[1]s\nwhile [ ! -e %[2]s ]; do sleep 0.01; done\necho \"VI_1 $1 end\" >> %[1]s\n", log, gate))
	quick := writeScript(t, dir, "quick", fmt.Sprintf("echo \"VI_2 $1\" >> %s\ntouch %s\n", log, gate))
	n := NewNotifier(NotifierConfig{Instances: map[string]Scripts{
		"VI_1": {Master: &Script{Argv: []string{blocker, "m"}}, Backup: &Script{Argv: []string{blocker, "b"}}},
		"VI_2": {Master: &Script{Argv: []string{quick, "m"}}},
	}, Timeout: 30 * time.Second})
	n.Notify(Transition{Name: "VI_1", State: StateMaster})
	n.Notify(Transition{Name: "VI_1", State: StateBackup})
	// Let VI_1's first script start before VI_2's.
	for i := 0; i < 1000; i++ {
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "VI_1 m start") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.Notify(Transition{Name: "VI_2", State: StateMaster})
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	want := "VI_1 m start\nVI_2 m\nVI_1 m end\nVI_1 b start\nVI_1 b end\n"
	if string(b) != want {
		t.Fatalf("log\n%s\nwant\n%s", b, want)
	}
}

// A hung notify script is killed at its timeout (with the sleeper it
// forked) and the next transition's scripts still run.
func TestNotifierHungScriptKilled(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hang := writeScript(t, dir, "hang", fmt.Sprintf("echo hang >> %s\nsleep 1000 &\nwait\n", log))
	ok := writeScript(t, dir, "ok", appendArgs(log, "backup"))
	var done []string
	n := NewNotifier(NotifierConfig{Instances: map[string]Scripts{
		"VI_1": {Master: &Script{Argv: []string{hang}}, Backup: &Script{Argv: []string{ok}}},
	}, Timeout: time.Second, KillGrace: 100 * time.Millisecond,
		OnDone: func(t Transition, err error) { done = append(done, fmt.Sprintf("%s %v", t.State, err)) }})
	n.Notify(Transition{Name: "VI_1", State: StateMaster})
	n.Notify(Transition{Name: "VI_1", State: StateBackup})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	if string(b) != "hang\nbackup \n" {
		t.Fatalf("log %q", b)
	}
	if st := n.Stats(); st.Ran != 2 || st.Failed != 1 {
		t.Fatalf("stats %+v", st)
	}
	if len(done) != 2 || !strings.HasPrefix(done[0], "MASTER notify: notify VI_1 MASTER: run ") || !strings.Contains(done[0], "timed out after 1s") || done[1] != "BACKUP <nil>" {
		t.Fatalf("OnDone saw %q", done)
	}
}

func TestNotifierRunsAsUser(t *testing.T) {
	checkNoLeaks(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run scripts as another user")
	}
	dir := worldDir(t)
	log := filepath.Join(dir, "log")
	s := writeScript(t, dir, "who", fmt.Sprintf("echo \"$(id -un) $*\" >> %s\n", log))
	n := NewNotifier(NotifierConfig{Groups: map[string]Scripts{
		"VG_1": {Notify: &Script{Argv: []string{s}, User: "nobody"}},
	}, Logger: testLogger(t)})
	n.Notify(Transition{Group: true, Name: "VG_1", State: StateFault, Priority: 100})
	n.Notify(Transition{Name: "VG_1", State: StateFault}) // an instance of that name has no scripts
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	if string(b) != "nobody GROUP VG_1 FAULT 0\n" {
		t.Fatalf("log %q", b)
	}
}

// When the queue is full, the oldest waiting transition goes: the latest
// state's scripts always run, and what runs is still in order.
func TestNotifierQueueFullDropsOldest(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	gate := filepath.Join(dir, "gate")
	s := writeScript(t, dir, "s", fmt.Sprintf("while [ ! -e %s ]; do sleep 0.01; done\necho \"$*\" >> %s\n", gate, log))
	n := NewNotifier(NotifierConfig{Instances: map[string]Scripts{"VI_1": {Notify: &Script{Argv: []string{s}}}}, QueueLen: 2})
	for i := 0; i < 6; i++ {
		n.Notify(Transition{Name: "VI_1", State: StateMaster, Priority: i})
		if i == 0 {
			// Wait for the worker to take transition 0 off the queue.
			for j := 0; j < 1000; j++ {
				n.mu.Lock()
				q := n.queues["INSTANCE VI_1"]
				taken := q != nil && len(q.pending) == 0
				n.mu.Unlock()
				if taken {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	want := "INSTANCE VI_1 MASTER 0\nINSTANCE VI_1 MASTER 4\nINSTANCE VI_1 MASTER 5\n"
	if string(b) != want {
		t.Fatalf("log %q, want %q", b, want)
	}
	if st := n.Stats(); st.Dropped != 3 {
		t.Fatalf("stats %+v", st)
	}
}
