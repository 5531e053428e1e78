package lvs_test

import (
	"net/netip"
	"strings"
	"testing"

	"vigil/lvs"
)

func id(vs, rs string) lvs.RealID { return lvs.RealID{VS: vs, Real: netip.MustParseAddrPort(rs)} }

// TestDesiredQuorum walks one virtual server through health changes with
// quorum 3 and hysteresis 1 and a sorry server, checking keepalived's rules
// (check/ipwrapper.c update_quorum_state): quorum is gained when the live
// weight reaches quorum+hysteresis (4), lost when it falls below
// quorum-hysteresis (2) or to 0; while lost, live reals are withdrawn
// (inhibited ones kept at weight 0) and the sorry server serves.
func TestDesiredQuorum(t *testing.T) {
	vs := lvs.VirtualServer{
		Name: "web", Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "wrr", Method: lvs.NAT,
		Reals: []lvs.RealServer{
			{Addr: a("10.0.1.1"), Weight: 2},
			{Addr: a("10.0.1.2"), Weight: 1, Inhibit: true},
			{Addr: a("10.0.1.3"), Weight: 1},
		},
		Sorry:  &lvs.RealServer{Addr: a("10.0.9.9"), Port: 8080},
		Quorum: 3, Hysteresis: 1,
	}
	const (
		r1 = "10.0.1.1:80"
		r2 = "10.0.1.2:80"
		r3 = "10.0.1.3:80"
	)
	steps := []struct {
		name  string
		down  []string
		up    bool
		reals string
	}{
		{"all up: 4 >= 3+1, quorum gained", nil, true, "10.0.1.1:80 w=2, 10.0.1.2:80 w=1, 10.0.1.3:80 w=1"},
		{"r3 down: 3 >= 3-1, still up", []string{r3}, true, "10.0.1.1:80 w=2, 10.0.1.2:80 w=1"},
		{"r2 down too: 2 >= 2, still up (hysteresis), r2 inhibited", []string{r3, r2}, true, "10.0.1.1:80 w=2, 10.0.1.2:80 w=0"},
		{"r1 down, r2 up: 1 < 2, quorum lost, sorry in", []string{r1, r3}, false, "10.0.1.2:80 w=0, 10.0.9.9:8080 w=1"},
		{"r1 back: 3 < 3+1, still down", []string{r3}, false, "10.0.1.2:80 w=0, 10.0.9.9:8080 w=1"},
		{"all back: 4, quorum regained, sorry out", nil, true, "10.0.1.1:80 w=2, 10.0.1.2:80 w=1, 10.0.1.3:80 w=1"},
		{"all down: 0, lost", []string{r1, r2, r3}, false, "10.0.1.2:80 w=0, 10.0.9.9:8080 w=1"},
	}
	q := lvs.QuorumStates{}
	for _, st := range steps {
		h := lvs.Health{Up: map[lvs.RealID]bool{}}
		for _, d := range st.down {
			h.Up[id("web", d)] = false
		}
		prev := q
		got, next, err := lvs.Desired([]lvs.VirtualServer{vs}, h, q)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if len(prev) > 0 && prev["web"] != q["web"] {
			t.Fatalf("Desired modified its input")
		}
		q = next
		if q["web"] != st.up {
			t.Errorf("%s: quorum up = %v, want %v", st.name, q["web"], st.up)
		}
		if r := realsOf(got); r != st.reals {
			t.Errorf("%s: reals %q, want %q", st.name, r, st.reals)
		}
	}
}

func realsOf(st lvs.State) string {
	var parts []string
	for _, s := range st.Services {
		for _, r := range s.Reals {
			parts = append(parts, r.AddrPort().String()+" w="+itoa(r.Weight))
		}
	}
	return strings.Join(parts, ", ")
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func TestDesiredNoSorryKeepsRealsOnQuorumLoss(t *testing.T) {
	// Without a sorry server keepalived only notifies on quorum loss; the
	// live reals stay.
	vs := lvs.VirtualServer{Name: "web", Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Quorum: 5,
		Reals: []lvs.RealServer{{Addr: a("10.0.1.1"), Weight: 1}, {Addr: a("10.0.1.2"), Weight: 1}}}
	st, q, err := lvs.Desired([]lvs.VirtualServer{vs}, lvs.Health{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q["web"] {
		t.Errorf("quorum up with weight 2 < 5")
	}
	if got := realsOf(st); got != "10.0.1.1:80 w=1, 10.0.1.2:80 w=1" {
		t.Errorf("reals %q", got)
	}
	if st.Services[0].Scheduler != "wlc" {
		t.Errorf("default scheduler %q, want wlc", st.Services[0].Scheduler)
	}
}

func TestDesiredAlphaAndDynamicWeight(t *testing.T) {
	vs := lvs.VirtualServer{Name: "web", Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "wrr", Alpha: true,
		Reals: []lvs.RealServer{{Addr: a("10.0.1.1"), Weight: 1}, {Addr: a("10.0.1.2"), Weight: 1}}}
	h := lvs.Health{Up: map[lvs.RealID]bool{id("web", "10.0.1.2:80"): true}, Weight: map[lvs.RealID]int{id("web", "10.0.1.2:80"): 7}}
	st, _, err := lvs.Desired([]lvs.VirtualServer{vs}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := realsOf(st); got != "10.0.1.2:80 w=7" {
		t.Errorf("alpha: reals %q, want only the checked one with its dynamic weight", got)
	}
}

func TestDesiredGroup(t *testing.T) {
	vs := lvs.VirtualServer{Name: "group web", Proto: lvs.TCP, Port: 80, Scheduler: "mh",
		Group: []lvs.GroupEntry{
			{First: a("10.0.0.1"), Last: a("10.0.0.3")},
			{First: a("10.0.0.10"), Port: 443},
			{FWMark: 9},
		},
		Reals: []lvs.RealServer{{Addr: a("10.0.1.1"), Weight: 1}, {Addr: a("10.0.1.2"), Port: 8443, Weight: 1}}}
	st, _, err := lvs.Desired([]lvs.VirtualServer{vs}, lvs.Health{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `ipvs svc tcp 10.0.0.1:80 mh
ipvs dst tcp 10.0.0.1:80 -> 10.0.1.1:80 nat w=1
ipvs dst tcp 10.0.0.1:80 -> 10.0.1.2:8443 nat w=1
ipvs svc tcp 10.0.0.2:80 mh
ipvs dst tcp 10.0.0.2:80 -> 10.0.1.1:80 nat w=1
ipvs dst tcp 10.0.0.2:80 -> 10.0.1.2:8443 nat w=1
ipvs svc tcp 10.0.0.3:80 mh
ipvs dst tcp 10.0.0.3:80 -> 10.0.1.1:80 nat w=1
ipvs dst tcp 10.0.0.3:80 -> 10.0.1.2:8443 nat w=1
ipvs svc tcp 10.0.0.10:443 mh
ipvs dst tcp 10.0.0.10:443 -> 10.0.1.1:443 nat w=1
ipvs dst tcp 10.0.0.10:443 -> 10.0.1.2:8443 nat w=1
ipvs svc fwm 9 mh
ipvs dst fwm 9 -> 10.0.1.1:0 nat w=1
ipvs dst fwm 9 -> 10.0.1.2:8443 nat w=1
`
	if got := st.String(); got != want {
		t.Errorf("group expansion:\n got:\n%s want:\n%s", got, want)
	}
	for _, bad := range []struct {
		g   lvs.GroupEntry
		err string
	}{
		{lvs.GroupEntry{First: a("10.0.0.5"), Last: a("10.0.0.1")}, "bad group range 10.0.0.5-10.0.0.1"},
		{lvs.GroupEntry{First: a("10.0.0.0"), Last: a("10.2.0.0")}, "more than 65536 addresses"},
		{lvs.GroupEntry{}, "group entry without address"},
	} {
		vs.Group = []lvs.GroupEntry{bad.g}
		if _, _, err := lvs.Desired([]lvs.VirtualServer{vs}, lvs.Health{}, nil); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("group %+v: err %v, want %q", bad.g, err, bad.err)
		}
	}
}

func TestDesiredDuplicateName(t *testing.T) {
	vs := lvs.VirtualServer{Name: "x", Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80}
	if _, _, err := lvs.Desired([]lvs.VirtualServer{vs, vs}, lvs.Health{}, nil); err == nil || !strings.Contains(err.Error(), `"x" defined twice`) {
		t.Errorf("err %v", err)
	}
}
