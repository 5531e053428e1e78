package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runVigil(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConf(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const plainConf = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress { 10.0.0.200/24 }
}
virtual_server 10.0.0.200 80 {
    protocol TCP
    lb_algo wrr
    persistence_timeout
    real_server 10.0.1.1 80 {
        TCP_CHECK { }
    }
}
`

const clusterConf = `cluster {
    name edge
    node d1 { address 10.0.0.11 }
    node d2 { address 10.0.0.12 }
    node d3 { address 10.0.0.13 }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    node d2 { priority 90 }
    virtual_ipaddress { 10.0.0.200/24 }
}
`

func TestConfigCheckPlain(t *testing.T) {
	p := writeConf(t, "keepalived.conf", plainConf)
	code, out, errs := runVigil(t, "config", "check", p)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "valid plain keepalived config (no cluster block)") || !strings.Contains(out, "1 vrrp_instance(s), 1 virtual_server(s), 1 real_server(s)") {
		t.Errorf("stdout %q", out)
	}
	if want := p + ":8:5: lb_algo: warning: deprecated keyword; use lvs_sched\n"; errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
}

func TestConfigCheckCluster(t *testing.T) {
	p := writeConf(t, "vigil.conf", clusterConf)
	code, out, errs := runVigil(t, "config", "check", "--node", "d2", p)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "valid vigil config: cluster edge, nodes d1, d2, d3, 1 heartbeat link(s)") {
		t.Errorf("stdout %q", out)
	}
	code, _, errs = runVigil(t, "config", "check", "--node", "d7", p)
	if code != 1 || !strings.Contains(errs, "unknown node") {
		t.Errorf("--node d7: exit %d stderr %q", code, errs)
	}
}

func TestConfigCheckInvalid(t *testing.T) {
	p := writeConf(t, "bad.conf", "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n    advert_interval 1\n    virtual_ipaddress { 10.0.0.1 }\n}\n")
	code, out, errs := runVigil(t, "config", "check", p)
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	want := p + ":3:5: virtual_router_id: 300 out of range 1-255\n" +
		p + ":4:5: advert_interval: unknown keyword in vrrp_instance; did you mean \"advert_int\"?\n" +
		p + ": 2 error(s)\n"
	if errs != want {
		t.Errorf("stderr\n%s\nwant\n%s", errs, want)
	}
}

func TestConfigCheckUsage(t *testing.T) {
	if code, _, _ := runVigil(t, "config", "check"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
	if code, _, errs := runVigil(t, "config", "check", "/nonexistent/keepalived.conf"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d stderr %q", code, errs)
	}
	if code, out, _ := runVigil(t, "config", "check", "--help"); code != 0 || !strings.Contains(out, "Exit status: 0 valid") {
		t.Errorf("--help: exit %d out %q", code, out)
	}
	if code, _, errs := runVigil(t, "config", "frob"); code != 2 || !strings.Contains(errs, "unknown subcommand") {
		t.Errorf("frob: exit %d stderr %q", code, errs)
	}
	if code, out, _ := runVigil(t, "config", "--help"); code != 0 || !strings.Contains(out, "dump [--json] FILE") {
		t.Errorf("config --help: %d %q", code, out)
	}
}

func TestConfigDumpJSON(t *testing.T) {
	p := writeConf(t, "keepalived.conf", plainConf)
	code, out, errs := runVigil(t, "config", "dump", p, "--json")
	if code != 0 {
		t.Fatalf("exit %d stderr %s", code, errs)
	}
	var m struct {
		Instances []struct {
			Priority  int     `json:"priority"`
			AdvertInt float64 `json:"advert_int"`
		} `json:"vrrp_instances"`
		VirtualServers []struct {
			LVSSched           string  `json:"lvs_sched"`
			LVSMethod          string  `json:"lvs_method"`
			PersistenceTimeout float64 `json:"persistence_timeout"`
			DelayLoop          float64 `json:"delay_loop"`
		} `json:"virtual_servers"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if m.Instances[0].Priority != 100 || m.Instances[0].AdvertInt != 1 {
		t.Errorf("instance defaults %+v", m.Instances[0])
	}
	vs := m.VirtualServers[0]
	if vs.LVSSched != "wrr" || vs.LVSMethod != "NAT" || vs.PersistenceTimeout != 360 || vs.DelayLoop != 60 {
		t.Errorf("virtual server %+v", vs)
	}
}

func TestConfigDumpNodeAndText(t *testing.T) {
	p := writeConf(t, "vigil.conf", clusterConf)
	code, out, errs := runVigil(t, "config", "dump", "--json", "--node", "d2", p)
	if code != 0 {
		t.Fatalf("exit %d stderr %s", code, errs)
	}
	if !strings.Contains(out, `"priority": 90`) {
		t.Errorf("d2 view lacks its override:\n%s", out)
	}
	code, out, _ = runVigil(t, "config", "dump", p)
	if code != 0 || !strings.Contains(out, "vrrp_instance VI_1 {\n    interface eth0\n") || !strings.Contains(out, "        priority 90\n") {
		t.Errorf("text dump (exit %d):\n%s", code, out)
	}
	if code, _, _ := runVigil(t, "config", "dump", "--node", "d2", writeConf(t, "plain.conf", plainConf)); code != 1 {
		t.Errorf("--node on a plain config: exit %d, want 1", code)
	}
}
