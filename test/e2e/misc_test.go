package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// miscConf checks rs1 with a MISC_CHECK misc_dynamic script whose exit
// status each test sets per director (DIR/code-NAMESPACE, else DIR/code).
const miscConf = `
virtual_server 10.99.0.200 9000 {
    lvs_sched wrr
    lvs_method NAT
    protocol TCP
    real_server 192.168.99.21 9000 {
        weight 1
        MISC_CHECK {
            misc_path "DIR/misc.sh"
            misc_timeout 2
            misc_dynamic
            delay_loop 1
        }
    }
    real_server 192.168.99.22 9000 {
        weight 1
    }
}
`

// TestMiscDynamicWeightAgreed proves on real hosts that a misc_dynamic
// weight (exit status N: weight N-2) is agreed like a verdict and
// programmed on every director: all three scripts exiting 7 set rs1's
// weight to 5 in the nftables datapath of d1, d2 and d3; d1's script
// alone exiting 9 changes nothing anywhere, d1 included (health_quorum
// majority); d1's and d2's exiting 9 set 7 everywhere, d3 included. The
// cluster starts without any checker: the MISC_CHECK arrives through vigil
// config apply, which starts the directors' health checking live.
func TestMiscDynamicWeightAgreed(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\nf=" + dir + "/code-$(ip netns identify)\n[ -e $f ] || f=" + dir + "/code\nexit $(cat $f 2>/dev/null || echo 0)\n"
	if err := os.WriteFile(filepath.Join(dir, "misc.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	code := func(name string, status string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(status+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checked := strings.ReplaceAll(miscConf, "DIR", dir)
	i := strings.Index(checked, "        MISC_CHECK {")
	j := strings.Index(checked, "    real_server 192.168.99.22")
	c := newCluster3With(t, checked[:i]+"    }\n"+checked[j:]) // no checker yet
	c.startRealServers()
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	ns := func(n string) string { return "code-" + c.d[n].host.Namespace() }
	c.waitWeights("no checker: the configured weight", "1", "1", "1")
	code("code", "7")
	c.d["d1"].host.MustRun(vigilBin, "config", "apply", c.writeConf("checked.conf", strings.Replace(c.confText(), checked[:i]+"    }\n"+checked[j:], checked, 1)))
	c.waitWeights("every script exits 7", "5", "5", "5")
	code(ns("d1"), "9")
	// Once d1's checker has seen 9, and for a while after (its report
	// commits within milliseconds), the agreed weight is still 5 on every
	// director, d1 included: the other two report 5.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.vigil.Proc("d1").Output(), "weight=7"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("d1's checker never saw weight 7:\n%s", c.logs())
		}
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if got := []string{c.weightOf("d1"), c.weightOf("d2"), c.weightOf("d3")}; strings.Join(got, " ") != "5 5 5" {
			t.Fatalf("d1's script alone exits 9: rs1's weight on d1, d2, d3 is %q, want 5 everywhere", got)
		}
	}
	code(ns("d2"), "9")
	c.waitWeights("d1's and d2's scripts exit 9", "7", "7", "7")
}

// weightOf reads rs1's weight from director n's nftables datapath (the
// reals map of its service's shard) ("" if
// rs1, or the datapath, is not there).
func (c *cluster3) weightOf(n string) string {
	out, err := c.d[n].host.Run("nft", "list", "table", "ip", "vigil")
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`192\.168\.99\.21 \. 9000 : (0x[0-9a-f]{8})`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	// The reals maps hold the weight as a mark, printed as a number.
	v, err := strconv.ParseUint(m[1][2:], 16, 32)
	if err != nil {
		c.t.Fatal(err)
	}
	return strconv.FormatUint(v, 10)
}

// waitWeights polls until rs1 has weight want in the datapath of d1, d2
// and d3 (in that order).
func (c *cluster3) waitWeights(what string, want ...string) {
	c.t.Helper()
	var got []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got = []string{c.weightOf("d1"), c.weightOf("d2"), c.weightOf("d3")}
		if strings.Join(got, " ") == strings.Join(want, " ") {
			c.t.Logf("%s: rs1's weight on d1, d2, d3: %v", what, got)
			return
		}
	}
	out, _ := c.d["d1"].host.Run("nft", "list", "table", "ip", "vigil")
	c.t.Fatalf("%s: rs1's weight on d1, d2, d3 is %q, want %q\n%s\n%s", what, got, want, out, c.fullLogs())
}
