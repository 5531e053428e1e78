package health

import "testing"

func TestVerdict(t *testing.T) {
	three := []string{"d1", "d2", "d3"}
	r := func(kv ...any) map[string]bool {
		m := map[string]bool{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(bool)
		}
		return m
	}
	const U, D = true, false
	tests := []struct {
		name    string
		q       Quorum
		current bool
		reports map[string]bool
		live    []string
		leader  string
		want    bool
	}{
		{"majority: one director's bad path does not take it out", QuorumMajority, U, r("d1", D, "d2", U, "d3", U), three, "d1", U},
		{"majority: two of three take it out", QuorumMajority, U, r("d1", D, "d2", D, "d3", U), three, "d1", D},
		{"majority: two of three bring it back", QuorumMajority, D, r("d1", U, "d2", U, "d3", D), three, "d1", U},
		{"majority: one report of three is no majority either way", QuorumMajority, D, r("d1", U), three, "d1", D},
		{"majority: no reports keep the current state", QuorumMajority, U, r(), three, "d1", U},
		{"majority: a dead director's report does not count", QuorumMajority, U, r("d1", D, "d2", D), []string{"d1", "d3"}, "d1", U},
		{"majority: of two live, both must agree", QuorumMajority, U, r("d1", D, "d3", U), []string{"d1", "d3"}, "d1", U},
		{"majority: of two live, both down", QuorumMajority, U, r("d1", D, "d3", D), []string{"d1", "d3"}, "d1", D},
		{"majority: a lone live director decides", QuorumMajority, U, r("d2", D), []string{"d2"}, "d2", D},
		{"majority: five directors, three down", QuorumMajority, U, r("a", D, "b", D, "c", D, "d", U, "e", U), []string{"a", "b", "c", "d", "e"}, "a", D},
		{"majority: five directors, two down", QuorumMajority, U, r("a", D, "b", D, "d", U), []string{"a", "b", "c", "d", "e"}, "a", U},
		{"majority: nobody live", QuorumMajority, U, r("d1", D), nil, "", U},
		{"leader: the leader's report decides", QuorumLeader, U, r("d1", D, "d2", U, "d3", U), three, "d1", D},
		{"leader: others are ignored", QuorumLeader, D, r("d1", D, "d2", U, "d3", U), three, "d1", D},
		{"leader: no report from the leader keeps the state", QuorumLeader, U, r("d2", D, "d3", D), three, "d1", U},
		{"leader: a leader not live keeps the state", QuorumLeader, U, r("d1", D), []string{"d2", "d3"}, "d1", U},
		{"any: one down takes it out", QuorumAny, U, r("d1", U, "d2", D, "d3", U), three, "d1", D},
		{"any: all reporting up brings it back", QuorumAny, D, r("d1", U, "d3", U), three, "d1", U},
		{"any: a dead director's down does not count", QuorumAny, U, r("d2", D, "d1", U), []string{"d1", "d3"}, "d1", U},
		{"any: no reports keep the state", QuorumAny, D, r(), three, "d1", D},
	}
	for _, tt := range tests {
		if got := Verdict(tt.q, tt.current, tt.reports, tt.live, tt.leader); got != tt.want {
			t.Errorf("%s: got up=%t, want up=%t", tt.name, got, tt.want)
		}
	}
}

func TestParseQuorum(t *testing.T) {
	for s, want := range map[string]Quorum{"": QuorumMajority, "majority": QuorumMajority, "LEADER": QuorumLeader, "any": QuorumAny} {
		if got, err := ParseQuorum(s); err != nil || got != want {
			t.Errorf("ParseQuorum(%q) = %v, %v", s, got, err)
		}
		if want.String() == "" {
			t.Error("empty String")
		}
	}
	if _, err := ParseQuorum("most"); err == nil {
		t.Error("ParseQuorum(most) succeeded")
	}
}

func TestAgreedWeight(t *testing.T) {
	three := []string{"d1", "d2", "d3"}
	w := func(kv ...any) map[string]int {
		m := map[string]int{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(int)
		}
		return m
	}
	tests := []struct {
		name    string
		q       Quorum
		current int
		weights map[string]int
		live    []string
		leader  string
		want    int
	}{
		{"majority: all three agree on the new weight", QuorumMajority, 1, w("d1", 5, "d2", 5, "d3", 5), three, "d1", 5},
		{"majority: two of three are enough", QuorumMajority, 1, w("d1", 5, "d2", 3, "d3", 5), three, "d1", 5},
		{"majority: one director alone changes nothing", QuorumMajority, 1, w("d1", 5, "d2", 1, "d3", 1), three, "d1", 1},
		{"majority: no weight with a majority keeps the current", QuorumMajority, 4, w("d1", 5, "d2", 3, "d3", 1), three, "d1", 4},
		{"majority: a director not reporting it up abstains", QuorumMajority, 1, w("d1", 5), three, "d1", 1},
		{"majority: a dead director's weight does not count", QuorumMajority, 1, w("d1", 5, "d2", 5), []string{"d1", "d3"}, "d1", 1},
		{"majority: weight 0 (exit 2) is a weight like any", QuorumMajority, 1, w("d1", 0, "d2", 0), three, "d1", 0},
		{"leader: the leader's weight", QuorumLeader, 1, w("d1", 5, "d2", 3, "d3", 3), three, "d1", 5},
		{"leader: no weight from the leader keeps the current", QuorumLeader, 1, w("d2", 3, "d3", 3), three, "d1", 1},
		{"leader: a leader not live keeps the current", QuorumLeader, 1, w("d1", 5), []string{"d2", "d3"}, "d1", 1},
		{"any: the lowest", QuorumAny, 1, w("d1", 5, "d2", 3, "d3", 7), three, "d1", 3},
		{"any: none reported keeps the current", QuorumAny, 2, w(), three, "d1", 2},
	}
	for _, tt := range tests {
		if got := AgreedWeight(tt.q, tt.current, tt.weights, tt.live, tt.leader); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}
