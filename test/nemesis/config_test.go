package nemesis

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"vigil/cluster/agent"
	"vigil/config"
	"vigil/test/topo"
)

// configLog is the nemesis's client of vigil's configuration: change k
// applies (vigil config apply, through one director's API) the base
// configuration plus virtual servers 1..k, so every later text contains
// every earlier change. It records which applies were acknowledged (exit
// status 0: HTTP 200, committed), and after healing checks that none of
// them was lost.
type configLog struct {
	th   *topo.Three
	base string // the file every agent started from
	dir  string

	mu    sync.Mutex
	tried int      // changes queued so far
	acked []ack    // acknowledged changes, in order
	nacks []string // why the others were not acknowledged
}

// ack is one acknowledged configuration change.
type ack struct {
	k       int
	via     string
	version uint64
}

func newConfigLog(th *topo.Three, conf, dir string) (*configLog, error) {
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, fmt.Errorf("nemesis: config log: %w", err)
	}
	return &configLog{th: th, base: string(b), dir: dir}, nil
}

// vsAddr is change k's virtual server address: 10.99.50.100 and up, never
// a prefix of another (so a plain substring search finds exactly it).
func vsAddr(k int) string { return fmt.Sprintf("10.99.%d.%d", 50+(k-1)/150, 100+(k-1)%150) }

// text is change k's configuration. Every odd change also moves the VIP
// out of VI_1 into a second instance, VI_2 (VRID 52, the same
// priorities), and gives VI_1 a spare address; every even one moves it
// back. So instances are redefined, added and removed live in the middle
// of the faults, and a VIP moves between instances: the observer fails the
// run if two directors ever answer for it.
func (cl *configLog) text(k int) string {
	var b strings.Builder
	base := cl.base
	if k%2 == 1 {
		vipAddr := cl.th.Net.VIP()
		spare := vipAddr[:strings.LastIndex(vipAddr, ".")+1] + "201"
		vips := "    virtual_ipaddress {\n        " + vipAddr + "/24\n    }\n}\n"
		var vi2 strings.Builder
		vi2.WriteString(strings.Replace(vips, vipAddr, spare, 1))
		vi2.WriteString("vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n    priority 100\n")
		for i, n := range topo.Names[1:] {
			fmt.Fprintf(&vi2, "    node %s { priority %d }\n", n, 99-i)
		}
		vi2.WriteString("    advert_int 1\n" + vips)
		base = strings.Replace(base, vips, vi2.String(), 1)
	}
	b.WriteString(base)
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n    lvs_sched mh\n    lvs_method NAT\n    protocol TCP\n    real_server 192.168.99.60 80 {\n        weight %d\n    }\n}\n", vsAddr(i), 1+i%5)
	}
	return b.String()
}

var versionRE = regexp.MustCompile(`version (\d+)`)

// change queues the next change, applied through director via.
func (cl *configLog) change(ops *opQueue, via string) error {
	cl.mu.Lock()
	cl.tried++
	k := cl.tried
	cl.mu.Unlock()
	file := filepath.Join(cl.dir, fmt.Sprintf("change%d.conf", k))
	// A change vigil refuses as invalid would only be counted as not
	// acknowledged: make sure the harness never writes one.
	c, _, err := config.Parse(file, []byte(cl.text(k)))
	if err == nil {
		if errs := agent.Check(c); len(errs) > 0 {
			err = config.ErrorList(errs)
		}
	}
	if err != nil {
		return fmt.Errorf("nemesis: config change %d is invalid: %w", k, err)
	}
	if err := os.WriteFile(file, []byte(cl.text(k)), 0o644); err != nil {
		return fmt.Errorf("nemesis: config change: %w", err)
	}
	ops.do(func() {
		out, err := cl.th.D[via].Host.Run(vigilBin, "config", "apply", file)
		if err != nil {
			// Not acknowledged: it may or may not have been committed.
			cl.mu.Lock()
			cl.nacks = append(cl.nacks, fmt.Sprintf("change %d via %s: %v", k, via, err))
			cl.mu.Unlock()
			return
		}
		m := versionRE.FindStringSubmatch(out)
		v, _ := strconv.ParseUint(m[len(m)-1], 10, 64)
		cl.mu.Lock()
		cl.acked = append(cl.acked, ack{k: k, via: via, version: v})
		cl.mu.Unlock()
	})
	return nil
}

// counts are the changes tried and acknowledged so far.
func (cl *configLog) counts() (tried, acked int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.tried, len(cl.acked)
}

// check waits up to within for every director to run one configuration
// that holds every acknowledged change, in its text and in its datapath,
// and returns the last reason it did not.
func (cl *configLog) check(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := cl.converged()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (cl *configLog) converged() error {
	cl.mu.Lock()
	acked := append([]ack(nil), cl.acked...)
	cl.mu.Unlock()
	var newest uint64
	for _, a := range acked {
		newest = max(newest, a.version)
	}
	var errs []error
	versions := map[uint64]bool{}
	for _, n := range names3 {
		body, err := cl.th.D[n].Host.Get("127.0.0.1:7070", "/v1/config", 2*time.Second)
		var r struct {
			Version, Applied uint64
			Text             string
		}
		if err == nil {
			err = json.Unmarshal([]byte(body), &r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: GET /v1/config: %w", n, err))
			continue
		}
		versions[r.Version] = true
		if r.Applied != r.Version {
			errs = append(errs, fmt.Errorf("%s runs configuration version %d of the cluster's %d", n, r.Applied, r.Version))
		}
		if r.Version < newest {
			errs = append(errs, fmt.Errorf("%s: the cluster's configuration is version %d, older than acknowledged version %d", n, r.Version, newest))
		}
		tables, _ := cl.th.D[n].Host.Run("nft", "list", "table", "ip", "vigil")
		for _, a := range acked {
			if !strings.Contains(r.Text, "virtual_server "+vsAddr(a.k)+" 80 {") {
				errs = append(errs, fmt.Errorf("%s: acknowledged change %d (version %d, via %s) lost: virtual server %s missing from the configuration", n, a.k, a.version, a.via, vsAddr(a.k)))
			} else if !strings.Contains(tables, vsAddr(a.k)) {
				errs = append(errs, fmt.Errorf("%s: acknowledged change %d (version %d) not in its datapath: no %s in nft table ip vigil", n, a.k, a.version, vsAddr(a.k)))
			}
		}
	}
	if len(versions) > 1 {
		errs = append(errs, fmt.Errorf("the directors disagree on the configuration's version: %v", versions))
	}
	return errors.Join(errs...)
}

// nacked is why changes were not acknowledged, skipping the first from.
func (cl *configLog) nacked(from int) []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]string(nil), cl.nacks[min(from, len(cl.nacks)):]...)
}
