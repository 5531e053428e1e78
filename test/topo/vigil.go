package topo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildVigil builds the vigil binary from the module's sources into dir
// and returns its path.
func BuildVigil(dir string) (string, error) {
	bin := filepath.Join(dir, "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, "vigil/cmd/vigil").CombinedOutput(); err != nil {
		return "", fmt.Errorf("topo: build vigil: %w\n%s", err, out)
	}
	return bin, nil
}

// RunWithVigil is the TestMain of a package that runs vigil agents: it
// builds the binary into a temporary directory, sets *bin to it, runs the
// tests and returns their exit code (for os.Exit), the directory removed.
func RunWithVigil(m interface{ Run() int }, bin *string) int {
	dir, err := os.MkdirTemp("", "vigil-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = BuildVigil(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// VigilConf is a vigil configuration of th's three directors: a cluster
// named name (also the router_id; the API token is name-secret) whose
// nodes are the directors at their LAN and heartbeat addresses, and one
// instance VI_1 (VRID 51, priorities 100, 99, 98, advert_int 1) with the
// VIP on the LAN. global goes inside global_defs, cluster inside the
// cluster block (timing keywords), extra after the instance (virtual
// servers): whole lines each.
func VigilConf(th *Three, name, global, cluster, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n%s}\ncluster {\n    name %s\n", name, global, name)
	for _, n := range Names {
		fmt.Fprintf(&b, "    node %s { address %s %s }\n", n, th.D[n].LANIP, th.D[n].HBIP)
	}
	fmt.Fprintf(&b, "    api_token %s-secret\n%s}\n", name, cluster)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 100\n")
	for i, n := range Names[1:] {
		fmt.Fprintf(&b, "    node %s { priority %d }\n", n, 99-i)
	}
	fmt.Fprintf(&b, "    advert_int 1\n    virtual_ipaddress {\n        %s/24\n    }\n}\n%s", th.Net.VIP(), extra)
	return b.String()
}

// Vigil returns vigil agents (bin) for th's directors, not started, each
// running the configuration file conf with its state in dir/NODE, logging
// at level.
func Vigil(th *Three, bin, conf, dir, level string) *Daemons {
	return NewDaemons(th, "vigil", func(n string) []string {
		return []string{bin, "agent", "-f", conf, "--node", n, "--data-dir", filepath.Join(dir, n), "--log-level", level}
	})
}
