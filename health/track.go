package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// TrackStatus is one tracked object's effect on a director's priority
// (vrrp_script, track_file, track_interface).
type TrackStatus struct {
	Name  string
	OK    bool // the script passes, the interface is up, the file reads OK
	Delta int  // the priority adjustment
	Fault bool // the director is not eligible (FAULT) while this holds
	// Value is a track_file's number (FileNumber), from which each
	// reference computes its own adjustment (FileDelta).
	Value int
}

// TrackDelta is keepalived's rule for a tracked object with a weight:
// weight 0 means FAULT while down (with reverse: while up); otherwise a
// positive weight is added while up and a negative one while down, and
// reverse flips the direction of the adjustment (subtract a positive weight
// while up, add |negative| while down).
func TrackDelta(ok bool, weight int, reverse bool) (delta int, fault bool) {
	switch {
	case weight == 0:
		return 0, ok == reverse
	case weight > 0 && ok:
		delta = weight
	case weight < 0 && !ok:
		delta = weight
	}
	if reverse {
		delta = -delta
	}
	return delta, false
}

// Priority combines a director's configured priority with its trackers'
// statuses as keepalived does: the sum of the deltas is added, the result
// kept within 1..254, and any fault makes the director not eligible. An
// address owner (priority 255) is never adjusted.
func Priority(base int, st []TrackStatus) (prio int, fault bool) {
	prio = base
	for _, s := range st {
		fault = fault || s.Fault
		if base < 255 {
			prio += s.Delta
		}
	}
	if base < 255 {
		prio = min(max(prio, 1), 254)
	}
	return prio, fault
}

// RiseFall is the deterministic core of a vrrp_script: keepalived's
// rise/fall counting. Until its first result the script is pending (a VRRP
// instance waits for it); keepalived then counts as if rise-1 successes had
// been seen (with init_fail: none), so the first success makes it OK and the
// first failure KO. After that, fall consecutive failures make it KO and
// rise consecutive successes OK again.
type RiseFall struct {
	rise, fall int
	ok         bool
	pending    bool
	streak     int // consecutive results against the current state
}

// NewRiseFall returns the counter; rise and fall below 1 count as 1.
func NewRiseFall(rise, fall int, initFail bool) *RiseFall {
	r := &RiseFall{rise: max(rise, 1), fall: max(fall, 1), pending: true}
	if !initFail {
		r.streak = r.rise - 1 // keepalived: "one success is enough"
	}
	return r
}

// OK is the current state (false while pending).
func (r *RiseFall) OK() bool { return r.ok }

// Pending reports whether no result has been observed yet.
func (r *RiseFall) Pending() bool { return r.pending }

// Observe records one script result and reports whether the state changed
// (the first result always counts as a change: it ends the pending state).
func (r *RiseFall) Observe(success bool) bool {
	first := r.pending
	r.pending = false
	if success == r.ok {
		r.streak = 0
		return first
	}
	r.streak++
	need := r.fall
	if !r.ok {
		need = r.rise
	}
	if r.streak < need {
		return first
	}
	r.ok, r.streak = success, 0
	return true
}

// ScriptTrackerSpec is a vrrp_script with the instance's track_script
// weight already applied.
type ScriptTrackerSpec struct {
	Name     string
	Script   ScriptSpec    // script, user, enable_script_security
	Interval time.Duration // interval; default 1s
	Timeout  time.Duration // timeout; default the interval
	Weight   int           // weight -253..253; default 0 (fault while KO)
	Reverse  bool
	Rise     int // rise; default 1
	Fall     int // fall; default 1
	InitFail bool
}

// ScriptTracker runs a vrrp_script every interval and reports changes.
type ScriptTracker struct {
	spec   ScriptTrackerSpec
	script *Script
	rf     *RiseFall
}

// NewScriptTracker validates the spec (script present, executable, safe).
func NewScriptTracker(spec ScriptTrackerSpec) (*ScriptTracker, error) {
	if spec.Interval <= 0 {
		spec.Interval = time.Second
	}
	if spec.Timeout <= 0 {
		spec.Timeout = spec.Interval
	}
	if spec.Weight < -253 || spec.Weight > 253 {
		return nil, fmt.Errorf("vrrp_script %s: weight %d outside -253..253", spec.Name, spec.Weight)
	}
	s, err := NewScript(spec.Script)
	if err != nil {
		return nil, fmt.Errorf("vrrp_script %s: %w", spec.Name, err)
	}
	return &ScriptTracker{spec: spec, script: s, rf: NewRiseFall(spec.Rise, spec.Fall, spec.InitFail)}, nil
}

// Status is the tracker's current contribution (as KO while pending).
func (t *ScriptTracker) Status() TrackStatus {
	d, f := TrackDelta(t.rf.OK(), t.spec.Weight, t.spec.Reverse)
	return TrackStatus{Name: t.spec.Name, OK: t.rf.OK(), Delta: d, Fault: f}
}

// Run runs the script at once and then every interval (each run bounded by
// the timeout, its process group killed and reaped), and reports the first
// result's status and then each change, until ctx is done. Until the first
// report the tracker is pending: keepalived keeps an instance waiting for
// its scripts' first results. Calls to onChange come from Run's goroutine.
func (t *ScriptTracker) Run(ctx context.Context, onChange func(TrackStatus)) error {
	tick := time.NewTicker(t.spec.Interval)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, t.spec.Timeout)
		st := t.script.Run(rctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if t.rf.Observe(st.Exit == 0 && !st.TimedOut) {
			onChange(t.Status())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// FileTrackerSpec is a track_file with the instance's weight applied.
type FileTrackerSpec struct {
	Name     string
	Path     string
	Weight   *int // weight; default 1. 0: a non-zero value is a fault
	Reverse  bool
	Interval time.Duration // how often the file is read; default 1s
}

// FileValue applies keepalived's track_file rule to the file's contents:
// FileDelta of its FileNumber.
func FileValue(contents string, weight int, reverse bool) TrackStatus {
	return FileDelta(FileNumber(contents), weight, reverse)
}

// FileNumber is the integer a track_file holds: its first word; a missing
// or unparsable file reads as 0.
func FileNumber(contents string) int {
	f := strings.Fields(contents)
	v := 0
	if len(f) > 0 {
		v, _ = strconv.Atoi(f[0])
	}
	return v
}

// FileDelta is keepalived's track_file rule for the number v: v times the
// weight (negated with reverse); with weight 0 a non-zero value is a fault
// (with reverse, a zero value); a result below -253 is a fault.
func FileDelta(v, weight int, reverse bool) TrackStatus {
	if weight == 0 {
		fault := (v != 0) != reverse // weight 0 reverse: a zero value is the fault
		return TrackStatus{OK: !fault, Fault: fault}
	}
	if reverse {
		weight = -weight
	}
	d := v * weight
	if d < -253 {
		return TrackStatus{OK: false, Delta: 0, Fault: true}
	}
	return TrackStatus{OK: true, Delta: d}
}

// FileTracker reads a track_file every interval and reports changes.
// (keepalived reacts to inotify events; reading a one-line file each
// interval costs as little and needs no kernel API.)
type FileTracker struct {
	spec FileTrackerSpec
	w    int
	last TrackStatus
}

// NewFileTracker validates the spec.
func NewFileTracker(spec FileTrackerSpec) (*FileTracker, error) {
	if spec.Path == "" {
		return nil, fmt.Errorf("track_file %s: no file", spec.Name)
	}
	w := 1
	if spec.Weight != nil {
		w = *spec.Weight
	}
	if spec.Interval <= 0 {
		spec.Interval = time.Second
	}
	return &FileTracker{spec: spec, w: w}, nil
}

// Read reads the file now and returns its status.
func (t *FileTracker) Read() TrackStatus {
	b, err := os.ReadFile(t.spec.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		b = nil
	}
	v := FileNumber(string(b))
	st := FileDelta(v, t.w, t.spec.Reverse)
	st.Name, st.Value = t.spec.Name, v
	return st
}

// Run reports the initial status and every change until ctx is done.
func (t *FileTracker) Run(ctx context.Context, onChange func(TrackStatus)) error {
	t.last = t.Read()
	onChange(t.last)
	tick := time.NewTicker(t.spec.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if st := t.Read(); st != t.last {
			t.last = st
			onChange(st)
		}
	}
}
