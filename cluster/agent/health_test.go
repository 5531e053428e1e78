package agent

import (
	"net/netip"
	"reflect"
	"testing"

	"vigil/cluster"
	"vigil/health"
	"vigil/lvs"
)

// TestWeightsAgreed: the misc_dynamic weights in the replicated state
// become one agreed weight per server, the same on every director: a
// director reporting the server up gives its dynamic weight or the
// configured one, a director reporting it down none; the load balancer
// gets a weight only where it differs from the configured one.
func TestWeightsAgreed(t *testing.T) {
	srv := func(addr string) HealthServer {
		return HealthServer{Real: lvs.RealID{VS: "vs", Real: netip.MustParseAddrPort(addr)}, Spec: health.ServerSpec{Weight: 1}}
	}
	servers := []HealthServer{srv("10.0.1.1:80"), srv("10.0.1.2:80"), srv("10.0.1.3:80"), srv("10.0.1.4:80")}
	nodes := []string{"d1", "d2", "d3"}
	st := cluster.NewState()
	for i, c := range []cluster.Command{
		// rs1: every director's script says weight 5.
		{Node: "d1", Server: "vs/10.0.1.1:80", Up: true, Dynamic: true, Weight: 5},
		{Node: "d2", Server: "vs/10.0.1.1:80", Up: true, Dynamic: true, Weight: 5},
		{Node: "d3", Server: "vs/10.0.1.1:80", Up: true, Dynamic: true, Weight: 5},
		// rs2: one director alone says 9; the others give the configured 1.
		{Node: "d1", Server: "vs/10.0.1.2:80", Up: true, Dynamic: true, Weight: 9},
		{Node: "d2", Server: "vs/10.0.1.2:80", Up: true},
		{Node: "d3", Server: "vs/10.0.1.2:80", Up: true},
		// rs3: two say 0 (exit 2), one has it down.
		{Node: "d1", Server: "vs/10.0.1.3:80", Up: true, Dynamic: true},
		{Node: "d2", Server: "vs/10.0.1.3:80", Up: true, Dynamic: true},
		{Node: "d3", Server: "vs/10.0.1.3:80", Up: false},
		// rs4: 3, 4 and down: no weight has a majority, the previous stands.
		{Node: "d1", Server: "vs/10.0.1.4:80", Up: true, Dynamic: true, Weight: 3},
		{Node: "d2", Server: "vs/10.0.1.4:80", Up: true, Dynamic: true, Weight: 4},
		{Node: "d3", Server: "vs/10.0.1.4:80", Up: false},
	} {
		c.Op = cluster.OpHealth
		if _, err := st.Apply(uint64(i+1), c); err != nil {
			t.Fatal(err)
		}
	}
	prev := map[string]int{"vs/10.0.1.4:80": 2}
	got := Weights(health.QuorumMajority, st, servers, nodes, "d1", prev)
	want := map[string]int{"vs/10.0.1.1:80": 5, "vs/10.0.1.2:80": 1, "vs/10.0.1.3:80": 0, "vs/10.0.1.4:80": 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("agreed weights = %v, want %v", got, want)
	}
	up := Verdicts(health.QuorumMajority, st, servers, nodes, "d1", nil)
	h := lvsHealth(servers, up, got)
	wantW := map[lvs.RealID]int{servers[0].Real: 5, servers[2].Real: 0, servers[3].Real: 2}
	if !reflect.DeepEqual(h.Weight, wantW) {
		t.Fatalf("load balancer weights = %v, want %v", h.Weight, wantW)
	}
}
