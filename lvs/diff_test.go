package lvs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"vigil/lvs"
	"vigil/lvs/lvstest"
)

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

func rl(ip string, port uint16, w int) lvs.Real {
	return lvs.Real{Addr: a(ip), Port: port, Weight: w, Method: lvs.NAT}
}

func web(reals ...lvs.Real) lvs.Service {
	return lvs.Service{Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "mh", Reals: reals}
}

func opStrings(ops []lvs.Op) string {
	var b strings.Builder
	for _, op := range ops {
		b.WriteString(op.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestDiffTable(t *testing.T) {
	st := func(ss ...lvs.Service) lvs.State { return lvs.State{Services: ss} }
	dns := lvs.Service{Proto: lvs.UDP, Addr: a("10.0.0.2"), Port: 53, Scheduler: "rr", Reals: []lvs.Real{rl("10.0.1.9", 53, 1)}}
	tests := []struct {
		name       string
		have, want lvs.State
		ops        string
	}{
		{"equal", st(web(rl("10.0.1.1", 80, 1))), st(web(rl("10.0.1.1", 80, 1))), ""},
		{"from empty", st(), st(web(rl("10.0.1.2", 80, 1), rl("10.0.1.1", 80, 2))),
			"add-service tcp 10.0.0.1:80 mh\n" +
				"add-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 nat w=2\n" +
				"add-dest tcp 10.0.0.1:80 -> 10.0.1.2:80 nat w=1\n"},
		{"to empty deletes the service only", st(web(rl("10.0.1.1", 80, 1)), dns), st(),
			"del-service tcp 10.0.0.1:80 mh\ndel-service udp 10.0.0.2:53 rr\n"},
		{"weight in place", st(web(rl("10.0.1.1", 80, 1), rl("10.0.1.2", 80, 1))), st(web(rl("10.0.1.1", 80, 1), rl("10.0.1.2", 80, 5))),
			"update-dest tcp 10.0.0.1:80 -> 10.0.1.2:80 nat w=5\n"},
		{"method in place", st(web(rl("10.0.1.1", 80, 1))), st(web(lvs.Real{Addr: a("10.0.1.1"), Port: 80, Weight: 1, Method: lvs.DR})),
			"update-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 dr w=1\n"},
		{"scheduler in place keeps reals", st(web(rl("10.0.1.1", 80, 1))), st(func() lvs.Service { s := web(rl("10.0.1.1", 80, 1)); s.Scheduler = "wrr"; return s }()),
			"update-service tcp 10.0.0.1:80 wrr\n"},
		{"persistence in place", st(web(rl("10.0.1.1", 80, 1))), st(func() lvs.Service { s := web(rl("10.0.1.1", 80, 1)); s.PersistenceTimeout = 300; return s }()),
			"update-service tcp 10.0.0.1:80 mh persistent=300/32 flags=persistent\n"},
		{"replace a real", st(web(rl("10.0.1.1", 80, 1))), st(web(rl("10.0.1.2", 80, 1))),
			"del-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 nat w=1\nadd-dest tcp 10.0.0.1:80 -> 10.0.1.2:80 nat w=1\n"},
		{"port change is a different real", st(web(rl("10.0.1.1", 80, 1))), st(web(rl("10.0.1.1", 8080, 1))),
			"del-dest tcp 10.0.0.1:80 -> 10.0.1.1:80 nat w=1\nadd-dest tcp 10.0.0.1:80 -> 10.0.1.1:8080 nat w=1\n"},
		{"deletions first", st(dns), st(web()),
			"del-service udp 10.0.0.2:53 rr\nadd-service tcp 10.0.0.1:80 mh\n"},
		{"input order does not matter", st(dns, web(rl("10.0.1.2", 80, 1), rl("10.0.1.1", 80, 1))), st(web(rl("10.0.1.1", 80, 1), rl("10.0.1.2", 80, 1)), dns), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := opStrings(lvs.Diff(tt.have, tt.want)); got != tt.ops {
				t.Errorf("Diff:\n got:\n%s want:\n%s", got, tt.ops)
			}
		})
	}
}

// TestDiffRandom applies Diff's ops to a kernel model holding have, for
// random pairs: no op may fail (no EEXIST/ENOENT), the result must be want,
// and the ops must be minimal: one op per differing object, never a delete
// and re-add of the same real, no dest ops under a deleted service.
func TestDiffRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		have, want := lvstest.RandomState(r, lvstest.IPVSCaps), lvstest.RandomState(r, lvstest.IPVSCaps)
		k := lvstest.NewKernel()
		for _, s := range have.Services {
			k.Insert(s)
		}
		ops := lvs.Diff(have, want)
		for _, op := range ops {
			if err := k.Do(op); err != nil {
				t.Fatalf("pair %d: op %s: %v\nhave:\n%swant:\n%s", i, op, err, have, want)
			}
		}
		if got := k.String(); got != want.String() {
			t.Fatalf("pair %d: result differs:\n got:\n%s want:\n%s ops:\n%s", i, got, want, opStrings(ops))
		}
		if n := len(lvs.Diff(want, want)); n != 0 {
			t.Fatalf("pair %d: Diff(want, want) has %d ops", i, n)
		}
		if want := minOps(have, want); len(ops) != want {
			t.Fatalf("pair %d: %d ops, the minimum is %d:\n%s", i, len(ops), want, opStrings(ops))
		}
	}
}

// minOps counts the differing objects independently of Diff.
func minOps(have, want lvs.State) int {
	type rk struct {
		s lvs.ServiceKey
		r netip.AddrPort
	}
	hs, ws := map[lvs.ServiceKey]lvs.Service{}, map[lvs.ServiceKey]lvs.Service{}
	hr, wr := map[rk]lvs.Real{}, map[rk]lvs.Real{}
	for _, s := range have.Canonical().Services {
		hs[s.Key()] = s
		for _, r := range s.Reals {
			hr[rk{s.Key(), r.AddrPort()}] = r
		}
	}
	for _, s := range want.Canonical().Services {
		ws[s.Key()] = s
		for _, r := range s.Reals {
			wr[rk{s.Key(), r.AddrPort()}] = r
		}
	}
	n := 0
	for k, s := range ws {
		h, ok := hs[k]
		if !ok || fmt.Sprint(h.String()) != s.String() {
			n++
		}
	}
	for k := range hs {
		if _, ok := ws[k]; !ok {
			n++
		}
	}
	for k, r := range wr {
		if h, ok := hr[k]; !ok || h != r {
			n++
		}
	}
	for k := range hr {
		if _, ok := wr[k]; !ok {
			if _, live := ws[k.s]; live {
				n++
			}
		}
	}
	return n
}

func TestCanonical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		st := lvstest.RandomState(r, lvstest.IPVSCaps)
		shuffled := st.Clone()
		r.Shuffle(len(shuffled.Services), func(i, j int) {
			shuffled.Services[i], shuffled.Services[j] = shuffled.Services[j], shuffled.Services[i]
		})
		for _, s := range shuffled.Services {
			r.Shuffle(len(s.Reals), func(i, j int) { s.Reals[i], s.Reals[j] = s.Reals[j], s.Reals[i] })
		}
		c := shuffled.Canonical()
		if c.String() != st.String() || c.Canonical().String() != c.String() {
			t.Fatalf("Canonical is not order-independent or not idempotent:\n%s\nvs\n%s", c, st)
		}
	}
	// Defaults: method pushed to reals, persistence flag and netmask, fwmark family.
	in := lvs.State{Services: []lvs.Service{
		{FWMark: 5, Port: 80, Proto: lvs.TCP, Scheduler: "rr", Method: lvs.DR, PersistenceTimeout: 60,
			Reals: []lvs.Real{{Addr: a("10.0.1.1"), Weight: 1}}},
		{Proto: lvs.TCP, Addr: a("::ffff:10.0.0.1"), Port: 80, Scheduler: "wlc", Flags: lvs.FlagPersistent,
			Reals: []lvs.Real{{Addr: a("10.0.1.1"), Weight: 1}}},
	}}
	want := "ipvs svc tcp 10.0.0.1:80 wlc\n" +
		"ipvs dst tcp 10.0.0.1:80 -> 10.0.1.1:80 nat w=1\n" +
		"ipvs svc fwm 5 rr persistent=60/32 flags=persistent\n" +
		"ipvs dst fwm 5 -> 10.0.1.1:0 dr w=1\n"
	if got := in.Canonical().String(); got != want {
		t.Errorf("Canonical:\n got:\n%s want:\n%s", got, want)
	}
}

func TestValidate(t *testing.T) {
	bad := []struct {
		s   lvs.Service
		err string
	}{
		{lvs.Service{Proto: lvs.TCP, Port: 80, Scheduler: "rr"}, "no address and no fwmark"},
		{lvs.Service{Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "bogus"}, `tcp 10.0.0.1:80: unknown scheduler "bogus"`},
		{lvs.Service{Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: lvs.FlagSHPort}, "need scheduler sh, not rr"},
		{lvs.Service{Proto: lvs.TCP, Addr: a("10.0.0.1"), Port: 80, Scheduler: "sh", Flags: lvs.FlagMHPort}, "need scheduler mh"},
		{web(rl("10.0.1.1", 80, -1)), "weight -1 out of range"},
		{web(rl("10.0.1.1", 80, 1), rl("10.0.1.1", 80, 2)), "10.0.1.1:80 listed twice"},
		{web(lvs.Real{Addr: a("10.0.1.1"), Port: 8080, Weight: 1, Method: lvs.DR}), "dr cannot change the port (use 80)"},
	}
	for _, b := range bad {
		err := lvs.State{Services: []lvs.Service{b.s}}.Validate()
		if err == nil || !strings.Contains(err.Error(), b.err) {
			t.Errorf("Validate(%s) = %v, want %q", b.s.String(), err, b.err)
		}
	}
	dup := lvs.State{Services: []lvs.Service{web(), web()}}
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("duplicate service: %v", err)
	}
}

func TestRestrictNeverTouchesForeign(t *testing.T) {
	foreign := lvs.Service{Proto: lvs.TCP, Addr: a("192.168.9.9"), Port: 22, Scheduler: "rr", Reals: []lvs.Real{rl("192.168.9.10", 22, 1)}}
	k := lvstest.NewKernel()
	k.Insert(foreign)
	dp := lvstest.New(k)
	ctx := t.Context()
	for _, st := range []lvs.State{{Services: []lvs.Service{web(rl("10.0.1.1", 80, 1))}}, {}} {
		if err := dp.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
		if k.State().Lookup(foreign.Key()) == nil {
			t.Fatalf("foreign service deleted:\n%s", k)
		}
	}
	// A restarted agent forgets what it made: it still must not delete foreign
	// services; it re-owns what it wants again.
	dp.Forget()
	if err := dp.Apply(ctx, lvs.State{}); err != nil {
		t.Fatal(err)
	}
	if got := k.String(); got != (lvs.State{Services: []lvs.Service{foreign}}).Canonical().String() {
		t.Errorf("after Forget+Apply(empty):\n%s", got)
	}
}

func TestExecuteIsolatesFailures(t *testing.T) {
	k := lvstest.NewKernel()
	boom := errors.New("boom")
	k.FailOn = func(op lvs.Op) error {
		if op.Kind == lvs.AddDest && op.Real.Addr == a("10.0.1.2") {
			return boom
		}
		return nil
	}
	dp := lvstest.New(k)
	other := lvs.Service{Proto: lvs.TCP, Addr: a("10.0.0.9"), Port: 80, Scheduler: "rr", Reals: []lvs.Real{rl("10.0.1.7", 80, 1)}}
	err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{web(rl("10.0.1.1", 80, 1), rl("10.0.1.2", 80, 1), rl("10.0.1.3", 80, 1)), other}})
	var oe *lvs.OpError
	if !errors.Is(err, boom) || !errors.As(err, &oe) || oe.Op.Service.Key() != web().Key() {
		t.Fatalf("Apply = %v, want an *OpError for tcp 10.0.0.1:80 wrapping boom", err)
	}
	if !strings.Contains(err.Error(), "add-dest tcp 10.0.0.1:80 -> 10.0.1.2:80") {
		t.Errorf("error does not name the op: %v", err)
	}
	if k.State().Lookup(other.Key()) == nil {
		t.Errorf("the healthy service was not applied:\n%s", k)
	}
	k.FailOn = nil
	if err := dp.Apply(t.Context(), lvs.State{Services: []lvs.Service{web(rl("10.0.1.1", 80, 1), rl("10.0.1.2", 80, 1), rl("10.0.1.3", 80, 1)), other}}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if s := k.State().Lookup(web().Key()); s == nil || len(s.Reals) != 3 {
		t.Errorf("retry did not converge:\n%s", k)
	}
}
