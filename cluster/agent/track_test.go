package agent

import (
	"maps"
	"reflect"
	"testing"

	"vigil/cluster"
	"vigil/config"
	"vigil/health"
)

const trackConf = `cluster {
    name t
    node d1 { address 10.0.0.1 }
    node d2 { address 10.0.0.2 }
    node d3 { address 10.0.0.3 }
}
vrrp_script chk {
    script "/bin/true"
    weight -10
}
vrrp_script grp {
    script "/bin/true"
}
track_file load {
    file "/nonexistent/load"
    weight 2
}
vrrp_sync_group G {
    group {
        VI_D
        VI_E
    }
    track_script {
        grp
    }
}
vrrp_instance VI_A {
    interface eth0
    virtual_router_id 1
    priority 100
    track_script {
        chk
    }
    track_file {
        load
    }
    track_interface {
        eth1 weight -20
    }
    virtual_ipaddress {
        10.0.0.201
    }
}
vrrp_instance VI_B {
    interface eth0
    virtual_router_id 2
    priority 100
    track_script {
        chk weight -30
    }
    track_file {
        load weight 1 reverse
    }
    virtual_ipaddress {
        10.0.0.202
    }
}
vrrp_instance VI_C {
    interface eth0
    virtual_router_id 3
    priority 100
    virtual_ipaddress {
        10.0.0.203
    }
}
vrrp_instance VI_D {
    interface eth0
    virtual_router_id 4
    priority 100
    virtual_ipaddress {
        10.0.0.204
    }
}
vrrp_instance VI_E {
    interface eth0
    virtual_router_id 5
    priority 100
    track_interface {
        eth2
    }
    virtual_ipaddress {
        10.0.0.205
    }
}
`

// TestTrackersPerInstance: as in keepalived, each tracked object runs
// once, and each reference applies its own weight to its instance only
// (a vrrp_instance's track_script, or its vrrp_sync_group's, which every
// member gets); a fault of one sync group member faults them all; an
// instance that references nothing gets no report.
func TestTrackersPerInstance(t *testing.T) {
	c, _, err := config.Parse("track.conf", []byte(trackConf))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromConfig(c, "d1")
	if err != nil {
		t.Fatal(err)
	}
	tr := s.Agent.Trackers
	if len(tr.Scripts) != 2 || len(tr.Files) != 1 || len(tr.Links) != 2 {
		t.Fatalf("tracked objects: %d scripts, %d files, %d links; want 2, 1, 2 (each once)", len(tr.Scripts), len(tr.Files), len(tr.Links))
	}
	wantRefs := map[string][]TrackRef{
		"VI_A": {{TrackScript, "chk", -10, false}, {TrackFile, "load", 2, false}, {TrackLink, "eth1", -20, false}},
		"VI_B": {{TrackScript, "chk", -30, false}, {TrackFile, "load", 1, true}},
		"VI_D": {{TrackScript, "grp", 0, false}},
		"VI_E": {{TrackLink, "eth2", 0, false}, {TrackScript, "grp", 0, false}},
	}
	if !reflect.DeepEqual(tr.Refs, wantRefs) {
		t.Fatalf("references = %v\nwant %v", tr.Refs, wantRefs)
	}

	ok := map[trackKey]health.TrackStatus{
		{TrackScript, "chk"}: {OK: true},
		{TrackScript, "grp"}: {OK: true},
		{TrackFile, "load"}:  {Value: 3},
		{TrackLink, "eth1"}:  {OK: true},
		{TrackLink, "eth2"}:  {OK: true},
	}
	with := func(k trackKey, st health.TrackStatus) map[trackKey]health.TrackStatus {
		m := maps.Clone(ok)
		m[k] = st
		return m
	}
	type R = cluster.InstanceReport
	tests := []struct {
		name string
		st   map[trackKey]health.TrackStatus
		want map[string]R
	}{
		{"all well: the file's number times each reference's weight", ok,
			map[string]R{"VI_A": {Weight: 6}, "VI_B": {Weight: -3}}},
		{"chk fails: its default weight on A, the override on B, nothing elsewhere", with(trackKey{TrackScript, "chk"}, health.TrackStatus{}),
			map[string]R{"VI_A": {Weight: -4}, "VI_B": {Weight: -33}}},
		{"eth1 down: A only", with(trackKey{TrackLink, "eth1"}, health.TrackStatus{}),
			map[string]R{"VI_A": {Weight: -14}, "VI_B": {Weight: -3}}},
		{"the sync group's script fails: every member faults", with(trackKey{TrackScript, "grp"}, health.TrackStatus{}),
			map[string]R{"VI_A": {Weight: 6}, "VI_B": {Weight: -3}, "VI_D": {Fault: true}, "VI_E": {Fault: true}}},
		{"a member's own weight-0 tracker fails: the whole group faults", with(trackKey{TrackLink, "eth2"}, health.TrackStatus{}),
			map[string]R{"VI_A": {Weight: 6}, "VI_B": {Weight: -3}, "VI_D": {Fault: true}, "VI_E": {Fault: true}}},
		{"an object not reported yet counts for nothing", map[trackKey]health.TrackStatus{{TrackScript, "chk"}: {}},
			map[string]R{"VI_A": {Weight: -10}, "VI_B": {Weight: -30}}},
	}
	for _, tt := range tests {
		if got := tr.reports(tt.st); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: reports = %v, want %v", tt.name, got, tt.want)
		}
	}
}
