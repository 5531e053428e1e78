package agent

import (
	"reflect"
	"testing"

	"vigil/cluster"
	"vigil/health"
)

// TestTrackMissing: an instance that lacks an interface here tracks it
// with weight 0, so its report is a fault (the link tracker reports a
// missing interface as down) while the others' reports do not change;
// the trackers given are left as they were.
func TestTrackMissing(t *testing.T) {
	orig := Trackers{
		Links: []health.LinkTrack{{Name: "eth1"}},
		Refs:  map[string][]TrackRef{"A": {{Kind: TrackLink, Name: "eth1", Weight: -10}}},
	}
	got := trackMissing(orig, map[string]string{"B": "eth9", "C": "eth1"})
	if want := []health.LinkTrack{{Name: "eth1"}, {Name: "eth9"}}; !reflect.DeepEqual(got.Links, want) {
		t.Errorf("links %v, want %v", got.Links, want)
	}
	st := map[trackKey]health.TrackStatus{
		{TrackLink, "eth1"}: {Name: "eth1", OK: true},
		{TrackLink, "eth9"}: {Name: "eth9", OK: false},
	}
	want := map[string]cluster.InstanceReport{"B": {Fault: true}}
	if r := got.reports(st); !reflect.DeepEqual(r, want) {
		t.Errorf("reports %v, want %v (A up, weight -10 only while down; C's eth1 is up)", r, want)
	}
	st[trackKey{TrackLink, "eth1"}] = health.TrackStatus{Name: "eth1", OK: false}
	want = map[string]cluster.InstanceReport{"A": {Weight: -10}, "B": {Fault: true}, "C": {Fault: true}}
	if r := got.reports(st); !reflect.DeepEqual(r, want) {
		t.Errorf("reports with eth1 down %v, want %v", r, want)
	}
	if len(orig.Links) != 1 || len(orig.Refs) != 1 || len(orig.Refs["A"]) != 1 {
		t.Errorf("trackMissing changed its argument: %+v", orig)
	}
}
