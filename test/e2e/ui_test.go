package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumFlags are what headless Chromium needs on these machines: no
// sandbox as root, and no background networking (the network is closed).
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--virtual-time-budget=6000",
}

// TestStatusPage loads the agent's status page in headless Chromium inside
// a director's namespace: after its scripts ran, the page shows the three
// nodes with d1 holding the VIP, the instance, the service's real servers
// and their verdicts. A screenshot is taken and kept for a person to look
// at (its path is logged).
func TestStatusPage(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is missing: apt-get install chromium (.ci/run installs it)")
	}
	c := newCluster3With(t, healthConf)
	c.startRealServers()
	for _, n := range []string{"d1", "d2", "d3"} {
		c.start(n)
	}
	c.waitAnswer(20*time.Second, func(n string) bool { return n == "d1" })
	c.waitStatus("d2", 10*time.Second, func(s string) bool { return strings.Contains(s, "d1=up d2=up d3=up") })

	dir := t.TempDir()
	run := func(args ...string) string {
		all := append([]string{"env", "HOME=" + dir, browser}, chromiumFlags...)
		all = append(all, "--user-data-dir="+filepath.Join(dir, "profile"))
		all = append(all, args...)
		out, err := c.d["d2"].host.Run(all...)
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, out)
		}
		return out
	}
	dom := run("--dump-dom", "http://127.0.0.1:7070/")
	for _, want := range []string{
		`data-node="d1"`, `data-node="d2"`, `data-node="d3"`, // the cluster map
		`data-peer="d1" data-state="up"`, // links coloured by state
		"holds VIP", "VI_1", "192.168.99.21:9000", "d1=up d2=up d3=up", "cluster e2e",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered status page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("rendered DOM:\n%s", dom)
	}

	shot := filepath.Join(os.TempDir(), "vigil-status-page.png")
	run("--window-size=1200,800", "--screenshot="+shot, "http://127.0.0.1:7070/")
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (size %d)", shot, err, fi.Size())
	}
	t.Logf("status page screenshot: %s (%d bytes)", shot, fi.Size())
}
