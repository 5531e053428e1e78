package cluster

// Scenario scripts: testdata/scenarios/*.txt drive one Core with events
// and print every action it emits; the output is compared with the
// .golden file next to the script (regenerate with -rewrite and review the
// diff). Commands, one per line ('#' starts a comment):
//
//	core node=a nodes=a,b,c [barrier=N] [inc=N] [fence] [lease=1s renew=333ms retry=100ms slack=100ms drift=0.01 margin=10ms]
//	instance NAME prio=a:100,b:150 [nopreempt] [delay=2s] [def=X]
//	set-instance NAME prio=... [nopreempt] [delay=2s] [def=X]   a live change or addition (SetInstances)
//	remove-instance NAME          a live removal (SetInstances)
//	at DURATION                   set the clock (relative to the origin) and Tick
//	committed vi=a@5 vi2=b@7r vi3=c@9:X report=b/vi:fault report=c/vi2:w-10 node=a:drained
//	                              (:X is the definition the assignment was made under)
//	leader term=N | follower term=N | ready term=N
//	reach NODE up|down
//	request from=NODE INSTANCE epoch=N id=N [inc=N]
//	verified round=N ok|fail
//	grant INSTANCE epoch=N id=N [inc=N]
//	release-request INSTANCE epoch=N
//	fenced NODE INSTANCE epoch=N ok|fail
//	deadline                      print Deadline

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files of the scenario scripts")

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := runScript(string(src))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s: output differs from %s (rerun with -rewrite and review the diff):\n%s", f, golden, got)
			}
		})
	}
}

type scriptEnv struct {
	origin time.Time
	now    time.Time
	cfg    Config
	core   *Core
	out    strings.Builder
}

func kv(fields []string) (map[string]string, []string) {
	m := map[string]string{}
	var pos []string
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	return m, pos
}

func runScript(src string) (string, error) {
	e := &scriptEnv{origin: time.Unix(5000, 0)}
	e.now = e.origin
	e.cfg.Timing = Timing{Lease: time.Second, Renew: time.Second / 3, Retry: 100 * time.Millisecond,
		KernelSlack: 100 * time.Millisecond, Drift: 0.01, Margin: 10 * time.Millisecond}
	for i, line := range strings.Split(src, "\n") {
		if c, _, ok := strings.Cut(line, "#"); ok {
			line = c
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fmt.Fprintf(&e.out, "> %s\n", line)
		if err := e.do(strings.Fields(line)); err != nil {
			return "", fmt.Errorf("line %d: %q: %w", i+1, line, err)
		}
		if e.core != nil {
			for _, a := range e.core.Ready() {
				fmt.Fprintf(&e.out, "  %s\n", FormatAction(a, e.origin))
			}
			e.core.Advance()
		}
	}
	return e.out.String(), nil
}

func (e *scriptEnv) dur(s string) (time.Duration, error) { return time.ParseDuration(s) }

func (e *scriptEnv) u64(m map[string]string, k string) (uint64, error) {
	v, ok := m[k]
	if !ok {
		return 0, fmt.Errorf("missing %s=", k)
	}
	return strconv.ParseUint(v, 10, 64)
}

func (e *scriptEnv) setInstances(specs []InstanceSpec) {
	if err := e.core.SetInstances(e.now, specs); err != nil {
		fmt.Fprintf(&e.out, "set-instances: %v\n", err)
		return
	}
	e.cfg.Instances = specs
}

func (e *scriptEnv) do(f []string) error {
	m, pos := kv(f[1:])
	if f[0] != "core" && f[0] != "instance" && e.core == nil {
		return fmt.Errorf("no core yet")
	}
	switch f[0] {
	case "core":
		e.cfg.Node = m["node"]
		e.cfg.Nodes = strings.Split(m["nodes"], ",")
		e.cfg.Barrier, _ = strconv.ParseUint(m["barrier"], 10, 64)
		e.cfg.Incarnation = 1
		e.cfg.Fence = len(pos) > 0 && pos[0] == "fence"
		if v, ok := m["inc"]; ok {
			e.cfg.Incarnation, _ = strconv.ParseUint(v, 10, 64)
		}
		for k, p := range map[string]*time.Duration{"lease": &e.cfg.Timing.Lease, "renew": &e.cfg.Timing.Renew,
			"retry": &e.cfg.Timing.Retry, "slack": &e.cfg.Timing.KernelSlack, "margin": &e.cfg.Timing.Margin} {
			if v, ok := m[k]; ok {
				d, err := e.dur(v)
				if err != nil {
					return err
				}
				*p = d
			}
		}
		if v, ok := m["drift"]; ok {
			e.cfg.Timing.Drift, _ = strconv.ParseFloat(v, 64)
		}
		c, err := NewCore(e.cfg)
		if err != nil {
			return err
		}
		e.core = c
		fmt.Fprintf(&e.out, "  (move wait %v)\n", e.cfg.Timing.MoveWait())
	case "instance", "set-instance":
		s := InstanceSpec{Name: pos[0], Priority: map[string]int{}, Nopreempt: len(pos) > 1 && pos[1] == "nopreempt", Def: m["def"]}
		for _, p := range strings.Split(m["prio"], ",") {
			n, v, _ := strings.Cut(p, ":")
			s.Priority[n], _ = strconv.Atoi(v)
		}
		if v, ok := m["delay"]; ok {
			d, err := e.dur(v)
			if err != nil {
				return err
			}
			s.PreemptDelay = d
		}
		if f[0] == "instance" {
			e.cfg.Instances = append(e.cfg.Instances, s)
			break
		}
		// set-instance: a live change of a running core's instance, or a
		// new one.
		specs := slices.DeleteFunc(slices.Clone(e.cfg.Instances), func(x InstanceSpec) bool { return x.Name == s.Name })
		e.setInstances(append(specs, s))
	case "remove-instance":
		e.setInstances(slices.DeleteFunc(slices.Clone(e.cfg.Instances), func(x InstanceSpec) bool { return x.Name == pos[0] }))
	case "at":
		d, err := e.dur(pos[0])
		if err != nil {
			return err
		}
		e.now = e.origin.Add(d)
		e.core.Tick(e.now)
	case "committed":
		st := NewState()
		for _, p := range f[1:] {
			k, v, _ := strings.Cut(p, "=")
			switch k {
			case "node": // node=a:drained
				n, flags, _ := strings.Cut(v, ":")
				r := st.Nodes[n]
				r.Drained = flags == "drained"
				st.Nodes[n] = r
				continue
			case "report": // report=b/vi:fault,w-10 (a tracker report)
				who, flags, _ := strings.Cut(v, ":")
				n, inst, _ := strings.Cut(who, "/")
				var ir InstanceReport
				for _, fl := range strings.Split(flags, ",") {
					switch {
					case fl == "fault":
						ir.Fault = true
					case strings.HasPrefix(fl, "w"):
						ir.Weight, _ = strconv.Atoi(fl[1:])
					}
				}
				r := st.Nodes[n]
				r.Instances = maps.Clone(r.Instances)
				if r.Instances == nil {
					r.Instances = map[string]InstanceReport{}
				}
				r.Instances[inst] = ir
				st.Nodes[n] = r
				continue
			}
			v, def, _ := strings.Cut(v, ":")
			h, ep, _ := strings.Cut(v, "@")
			rel := strings.HasSuffix(ep, "r")
			n, err := strconv.ParseUint(strings.TrimSuffix(ep, "r"), 10, 64)
			if err != nil {
				return err
			}
			if h == "-" {
				h = ""
			}
			st.Instances[k] = Assignment{Holder: h, Epoch: n, Released: rel, Def: def}
		}
		e.core.Step(e.now, Committed{State: st})
	case "leader", "follower":
		n, err := e.u64(m, "term")
		if err != nil {
			return err
		}
		e.core.Step(e.now, Leadership{Leader: f[0] == "leader", Term: n})
	case "ready":
		n, err := e.u64(m, "term")
		if err != nil {
			return err
		}
		e.core.Step(e.now, LeaderReady{Term: n})
	case "reach":
		e.core.Step(e.now, Reachable{Node: pos[0], Up: pos[1] == "up"})
	case "request", "grant":
		ep, err := e.u64(m, "epoch")
		if err != nil {
			return err
		}
		id, err := e.u64(m, "id")
		if err != nil {
			return err
		}
		inc := e.cfg.Incarnation
		if v, ok := m["inc"]; ok {
			inc, _ = strconv.ParseUint(v, 10, 64)
		}
		rid := RequestID{Incarnation: inc, Seq: id}
		if f[0] == "request" {
			e.core.Step(e.now, LeaseRequest{From: m["from"], Instance: pos[0], Epoch: ep, ID: rid})
		} else {
			e.core.Step(e.now, LeaseGrant{Instance: pos[0], Epoch: ep, ID: rid})
		}
	case "verified":
		r, err := e.u64(m, "round")
		if err != nil {
			return err
		}
		e.core.Step(e.now, Verified{Round: r, OK: pos[0] == "ok"})
	case "fenced":
		ep, err := e.u64(m, "epoch")
		if err != nil {
			return err
		}
		e.core.Step(e.now, Fenced{Node: pos[0], Instance: pos[1], Epoch: ep, OK: pos[2] == "ok"})
	case "release-request":
		ep, err := e.u64(m, "epoch")
		if err != nil {
			return err
		}
		e.core.Step(e.now, ReleaseRequest{Instance: pos[0], Epoch: ep})
	case "deadline":
		d, ok := e.core.Deadline()
		if ok {
			fmt.Fprintf(&e.out, "  deadline %v\n", d.Sub(e.origin))
		} else {
			fmt.Fprintf(&e.out, "  no deadline\n")
		}
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}
