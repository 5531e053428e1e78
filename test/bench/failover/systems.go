package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vigil/test/netns"
	"vigil/test/topo"
)

// procs is a system's daemons, one per director (topo.Daemons), as the
// trials drive them: a failure ends the benchmark.
type procs struct{ *topo.Daemons }

func (s *procs) start(n string) { s.Start(n) }

// dump is the tail of every daemon's output, for a failure message.
func (s *procs) dump() string { return s.Dump(1500) }

func (s *procs) kill(n string) {
	if err := s.Kill(n); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
}

// benchVS is the virtual server of the benchmark's cluster, its real
// server at weight WEIGHT.
const benchVS = `virtual_server 10.97.0.200 9000 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 192.168.97.50 9000 {
        weight WEIGHT
    }
}
`

type vigilSys struct {
	procs
	th                *topo.Three
	bin, conf, timing string
}

// text is the configuration (topo.VigilConf) with the real server at
// weight w.
func (v *vigilSys) text(w int) string {
	return topo.VigilConf(v.th, "bench", "", v.timing, strings.ReplaceAll(benchVS, "WEIGHT", fmt.Sprint(w)))
}

// applies changes a real server's weight k times with vigil config apply
// and measures from the command's start until every director reports the
// new version applied (GET /v1/config, polled every 5 ms).
func (v *vigilSys) applies(l *lab, k int) []time.Duration {
	var out []time.Duration
	for i := range k {
		next := filepath.Join(filepath.Dir(v.conf), fmt.Sprintf("apply%d.conf", i))
		writeFile(next, v.text(2+i%2))
		t0 := time.Now()
		res, err := l.d["d1"].Run(v.bin, "config", "apply", next)
		if err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("config apply: %v\n%s", err, res)})
		}
		var version uint64
		if _, err := fmt.Sscanf(res[strings.Index(res, "version ")+len("version "):], "%d", &version); err != nil {
			panic(netns.Failure{Msg: "config apply printed no version: " + res})
		}
		for _, n := range names {
			for appliedOn(l, n) < version {
				if time.Since(t0) > 10*time.Second {
					panic(netns.Failure{Msg: fmt.Sprintf("%s did not apply version %d within 10 s\n%s", n, version, v.dump())})
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		d := time.Since(t0)
		out = append(out, d)
		fmt.Printf("  apply %2d: version %d applied on every director after %v\n", i+1, version, d.Round(time.Millisecond))
	}
	return out
}

// appliedOn is the configuration version director n runs (0 when its API
// does not answer).
func appliedOn(l *lab, n string) uint64 {
	body, err := l.d[n].Get("127.0.0.1:7070", "/v1/config", time.Second)
	var r struct{ Applied uint64 }
	if err != nil || json.Unmarshal([]byte(body), &r) != nil {
		return 0
	}
	return r.Applied
}

// startVigil starts the three agents; timing adds cluster keywords (lease,
// heartbeat) to the configuration.
func startVigil(l *lab, bin, dir, timing string) *vigilSys {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	v := &vigilSys{th: l.Three, bin: bin, conf: filepath.Join(dir, "vigil.conf"), timing: timing}
	writeFile(v.conf, v.text(1))
	v.procs = procs{topo.Vigil(l.Three, bin, v.conf, dir, "warn")}
	for _, n := range names {
		v.start(n)
	}
	return v
}

// transfers hands the VIP over k times with vigil transfer (to the best
// other director) and measures the longest time no director answered ARP
// for the VIP around each handover (probed every 20 ms); then it clears
// the pin.
func (v *vigilSys) transfers(l *lab, k int) []time.Duration {
	var out []time.Duration
	for i := range k {
		holder, _, err := l.waitAnswer(30*time.Second, func(string) bool { return true })
		if err != nil {
			panic(netns.Failure{Msg: "before transfer: " + err.Error()})
		}
		g, err := topo.Observe(l.Three, 20*time.Millisecond, nil)
		if err != nil {
			panic(netns.Failure{Msg: err.Error()})
		}
		res, err := l.d[holder].Run(v.bin, "transfer", "VI_1", "-f", v.conf)
		if err != nil {
			panic(netns.Failure{Msg: fmt.Sprintf("transfer from %s: %v\n%s", holder, err, res)})
		}
		if _, _, err := l.waitAnswer(30*time.Second, func(s string) bool { return s != holder }); err != nil {
			panic(netns.Failure{Msg: "after transfer: " + err.Error()})
		}
		time.Sleep(300 * time.Millisecond)
		gap := g.Gap()
		g.Close()
		out = append(out, gap)
		fmt.Printf("  transfer %2d: from %s (%s), longest time nobody answered ARP %v\n", i+1, holder, strings.TrimSpace(res), gap.Round(time.Millisecond))
		settle(l)
	}
	if res, err := l.d["d1"].Run(v.bin, "transfer", "VI_1", "--clear", "-f", v.conf); err != nil {
		panic(netns.Failure{Msg: fmt.Sprintf("transfer --clear: %v\n%s", err, res)})
	}
	settle(l)
	return out
}

type keepalivedSys struct{ procs }

func startKeepalived(l *lab, dir string, version int, advert string) *keepalivedSys {
	d, err := topo.Keepalived(l.Three, dir, version, advert)
	if err != nil {
		panic(netns.Failure{Msg: err.Error()})
	}
	k := &keepalivedSys{procs{d}}
	for _, n := range names {
		k.start(n)
	}
	return k
}
