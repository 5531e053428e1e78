package main

import (
	"bytes"
	"strings"
	"testing"

	"vigil/cluster/agent"
)

// TestPrintStatusPriorities: the instance table shows each candidate's
// effective priority, with the configured one and the tracker weight when
// a tracker moves it, and a fault.
func TestPrintStatusPriorities(t *testing.T) {
	st := &agent.ClusterStatus{Cluster: "c", Node: "d1", Leader: "d1", Instances: []agent.InstanceStatus{{
		Name: "VI_1", VRID: 51, Holder: "d2", Epoch: 7,
		Priorities: []agent.NodePriority{
			{Node: "d1", Configured: 100, Weight: -50, Effective: 50},
			{Node: "d2", Configured: 99, Effective: 99},
			{Node: "d3", Configured: 98, Effective: 98, Fault: true},
		},
	}}}
	var b bytes.Buffer
	printStatus(&b, st)
	if !strings.Contains(b.String(), "d1=50(100-50) d2=99 d3=fault") {
		t.Errorf("status:\n%s\nwant the priorities d1=50(100-50) d2=99 d3=fault", b.String())
	}
}
