package health

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTrackDelta(t *testing.T) {
	tests := []struct {
		ok      bool
		weight  int
		reverse bool
		delta   int
		fault   bool
	}{
		{true, 0, false, 0, false}, // weight 0: fault while down
		{false, 0, false, 0, true},
		{true, 0, true, 0, true}, // weight 0 reverse: fault while up
		{false, 0, true, 0, false},
		{true, 10, false, 10, false}, // positive: added while up
		{false, 10, false, 0, false},
		{true, -10, false, 0, false}, // negative: subtracted while down
		{false, -10, false, -10, false},
		{true, 10, true, -10, false}, // reverse: decreased while up
		{false, 10, true, 0, false},
		{true, -10, true, 0, false}, // reverse: increased while down
		{false, -10, true, 10, false},
	}
	for _, tt := range tests {
		d, f := TrackDelta(tt.ok, tt.weight, tt.reverse)
		if d != tt.delta || f != tt.fault {
			t.Errorf("TrackDelta(ok=%t, %d, reverse=%t) = %d, %t; want %d, %t", tt.ok, tt.weight, tt.reverse, d, f, tt.delta, tt.fault)
		}
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		base  int
		st    []TrackStatus
		prio  int
		fault bool
	}{
		{100, nil, 100, false},
		{100, []TrackStatus{{Delta: -30}, {Delta: 5}}, 75, false},
		{100, []TrackStatus{{Delta: -200}}, 1, false},
		{200, []TrackStatus{{Delta: 100}}, 254, false},
		{255, []TrackStatus{{Delta: -100}}, 255, false}, // address owner
		{100, []TrackStatus{{Delta: 10}, {Fault: true}}, 110, true},
	}
	for _, tt := range tests {
		p, f := Priority(tt.base, tt.st)
		if p != tt.prio || f != tt.fault {
			t.Errorf("Priority(%d, %v) = %d, %t; want %d, %t", tt.base, tt.st, p, f, tt.prio, tt.fault)
		}
	}
}

func TestRiseFall(t *testing.T) {
	tests := []struct {
		rise, fall int
		initFail   bool
		results    string // s = success, f = failure
		states     string // state after each result: O = OK, K = KO
	}{
		{1, 1, false, "sfsf", "OKOK"},
		{3, 2, false, "s", "O"},             // keepalived: one success is enough at first
		{3, 2, false, "fsss", "KKKO"},       // a first failure is KO at once, then rise successes
		{2, 3, false, "sffsfff", "OOOOOOK"}, // a success resets the fall count
		{3, 1, true, "ssfsss", "KKKKKO"},    // init_fail: rise successes; a failure resets the count
		{0, 0, false, "fs", "KO"},           // below 1 counts as 1
	}
	for _, tt := range tests {
		rf := NewRiseFall(tt.rise, tt.fall, tt.initFail)
		if !rf.Pending() || rf.OK() {
			t.Fatal("a new RiseFall is not pending")
		}
		got := ""
		for i, r := range tt.results {
			if changed := rf.Observe(r == 's'); i == 0 && !changed {
				t.Errorf("the first result did not end the pending state")
			}
			if rf.OK() {
				got += "O"
			} else {
				got += "K"
			}
		}
		if got != tt.states {
			t.Errorf("rise %d fall %d init_fail %t %s: got %s, want %s", tt.rise, tt.fall, tt.initFail, tt.results, got, tt.states)
		}
	}
}

func TestFileValue(t *testing.T) {
	tests := []struct {
		contents string
		weight   int
		reverse  bool
		want     TrackStatus
	}{
		{"0\n", 0, false, TrackStatus{OK: true}},
		{"3\n", 0, false, TrackStatus{Fault: true}}, // weight 0: non-zero is a fault
		{"", 0, false, TrackStatus{OK: true}},       // missing: 0
		{"0", 0, true, TrackStatus{Fault: true}},    // weight 0 reverse: zero is the fault
		{"2", 0, true, TrackStatus{OK: true}},
		{"5\n", 1, false, TrackStatus{OK: true, Delta: 5}},
		{" -7 junk", 2, false, TrackStatus{OK: true, Delta: -14}},
		{"5", 2, true, TrackStatus{OK: true, Delta: -10}},
		{"-254", 1, false, TrackStatus{Fault: true}}, // below -253: fault
		{"abc", 3, false, TrackStatus{OK: true}},
	}
	for _, tt := range tests {
		if got := FileValue(tt.contents, tt.weight, tt.reverse); got != tt.want {
			t.Errorf("FileValue(%q, %d, %t) = %+v, want %+v", tt.contents, tt.weight, tt.reverse, got, tt.want)
		}
	}
}

// collect runs a tracker's Run in the background and returns its statuses

// on a channel; it stops the tracker and checks for leaks at the end.

func collect(t *testing.T, run func(context.Context, func(TrackStatus)) error) chan TrackStatus {
	t.Helper()
	ch := make(chan TrackStatus, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(s TrackStatus) { ch <- s }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("tracker did not stop")
		}
		checkNoLeaks(t)
	})
	return ch
}

func nextStatus(t *testing.T, ch chan TrackStatus) TrackStatus {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no tracker status")
	}
	return TrackStatus{}
}

func TestFileTracker(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "prio")
	zero := 0
	tr, err := NewFileTracker(FileTrackerSpec{Name: "f", Path: f, Weight: &zero, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ch := collect(t, tr.Run)
	if s := nextStatus(t, ch); !s.OK || s.Fault {
		t.Fatalf("missing file, weight 0: %+v, want OK", s)
	}
	writeAtomic(t, f, "1\n")
	if s := nextStatus(t, ch); !s.Fault {
		t.Fatalf("1 with weight 0: %+v, want fault", s)
	}
	writeAtomic(t, f, "0\n")
	if s := nextStatus(t, ch); s.Fault || !s.OK {
		t.Fatalf("0 with weight 0: %+v, want OK", s)
	}

	g := filepath.Join(dir, "g")
	os.WriteFile(g, []byte("-4"), 0o644)
	w := 5
	tr2, _ := NewFileTracker(FileTrackerSpec{Name: "g", Path: g, Weight: &w, Interval: 20 * time.Millisecond})
	if s := tr2.Read(); s.Delta != -20 || s.Name != "g" {
		t.Fatalf("-4 × 5: %+v", s)
	}
	if _, err := NewFileTracker(FileTrackerSpec{Name: "x"}); err == nil {
		t.Error("track_file without a file accepted")
	}
}

// TestLinkTracker watches an interface in a namespace from netlink events:

// cable pulled at the switch (carrier lost), link set down, link deleted.
