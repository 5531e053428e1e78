package config

import (
	"errors"
	"strings"
	"testing"
)

// inst wraps instance statements in a valid vrrp_instance (lines 1-4 are
// the header, the body starts on line 5, column 5).
func inst(body string) string {
	return "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress { 10.0.0.1/24 }\n" + body + "}\n"
}

// vs wraps statements in a virtual_server (body from line 2).
func vs(body string) string {
	return "virtual_server 10.0.0.1 80 {\n" + body + "    real_server 10.0.1.1 80 { }\n    protocol TCP\n}\n"
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		pos     string // "line:col"
		keyword string
		msg     string // substring
	}{
		// Unknown keywords with did-you-mean.
		{"advert_interval", inst("    advert_interval 1\n"), "5:5", "advert_interval", `unknown keyword in vrrp_instance; did you mean "advert_int"?`},
		{"auth_typ", inst("    authentication {\n        auth_typ PASS\n        auth_pass x\n    }\n"), "6:9", "auth_typ", `did you mean "auth_type"?`},
		{"auth_pas", inst("    authentication {\n        auth_type PASS\n        auth_pss x\n    }\n"), "7:9", "auth_pss", `did you mean "auth_pass"?`},
		{"virtual_ipadress", "vrrp_instance V {\n    virtual_ipadress { 10.0.0.1 }\n}\n", "2:5", "virtual_ipadress", `did you mean "virtual_ipaddress"?`},
		{"priorty", inst("    priorty 100\n"), "5:5", "priorty", `did you mean "priority"?`},
		{"no suggestion", inst("    frobnicate\n"), "5:5", "frobnicate", "unknown keyword in vrrp_instance"},
		{"missing brace hint", "vrrp_instance V {\n    interface eth0\nvirtual_server 10.0.0.1 80 {\n}\n", "3:1", "virtual_server", "unknown keyword in vrrp_instance (virtual_server is a top-level block: is a '}' missing above it?)"},
		{"top-level typo", "vrrp_instanc V { }\n", "1:1", "vrrp_instanc", `did you mean "vrrp_instance"?`},
		{"checker typo", vs("") + "virtual_server 10.0.0.2 80 {\n    real_server 10.0.1.1 80 {\n        TCP_CHECK { conect_timeout 3 }\n    }\n}\n", "7:21", "conect_timeout", `did you mean "connect_timeout"?`},
		{"scheduler typo", vs("    lvs_sched wrrr\n"), "2:5", "lvs_sched", `"wrrr" is not one of rr, wrr`},
		{"cluster typo", "cluster {\n    name x\n    node a { adress 10.0.0.1 }\n}\n", "3:14", "adress", `did you mean "address"?`},
		// Ranges.
		{"vrid 0", "vrrp_instance V {\n    interface eth0\n    virtual_router_id 0\n}\n", "3:5", "virtual_router_id", "0 out of range 1-255"},
		{"vrid 256", inst("    virtual_router_id 256\n"), "5:5", "virtual_router_id", "256 out of range 1-255"},
		{"priority 0", inst("    priority 0\n"), "5:5", "priority", "0 out of range 1-255"},
		{"priority word", inst("    priority high\n"), "5:5", "priority", `"high" is not an integer`},
		{"state", inst("    state master\n"), "5:5", "state", `"master" is not one of MASTER, BACKUP; did you mean "MASTER"?`},
		{"weight", vs("    real_server 10.0.1.2 80 {\n        weight 70000\n    }\n"), "3:9", "weight", "70000 out of range 0-65535"},
		{"port", "virtual_server 10.0.0.1 70000 {\n    real_server 10.0.1.1 80 { }\n}\n", "1:1", "virtual_server", "70000 out of range 1-65535"},
		{"track weight", inst("    track_interface {\n        eth1 weight 300\n    }\n"), "6:9", "eth1", "300 out of range -253-253"},
		{"method", vs("    lvs_method DIRECT\n"), "2:5", "lvs_method", `"DIRECT" is not a forwarding method`},
		{"protocol", vs("    protocol ICMP\n"), "2:5", "protocol", `"ICMP" is not TCP, UDP or SCTP`},
		{"status code", vs("") + "virtual_server 10.0.0.2 80 {\n    real_server 10.0.1.1 80 {\n        HTTP_GET {\n            url {\n                path /\n                status_code 999\n            }\n        }\n    }\n}\n",
			"10:17", "status_code", `"999" is not an HTTP status code`},
		{"bad vip", inst("    virtual_ipaddress_excluded { 10.0.0.300 }\n"), "5:34", "10.0.0.300", "is not an IP address"},
		{"negative delay", vs("    delay_loop -1\n"), "2:5", "delay_loop", "out of range"},
		{"zero delay", vs("    delay_loop 0\n"), "2:5", "delay_loop", "must be more than 0 seconds"},
		{"auth pass too long", inst("    authentication {\n        auth_type PASS\n        auth_pass 123456789\n    }\n"), "7:9", "auth_pass", "VRRPv2 carries at most 8"},
		// Semantic checks.
		{"duplicate vrid", inst("") + "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress { 10.0.0.2/24 }\n}\n",
			"8:5", "virtual_router_id", "VRID 51 is already used on interface eth0 by instance VI_1 (t.conf:1:1)"},
		{"vip in two instances", inst("") + "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n    virtual_ipaddress { 10.0.0.1/24 }\n}\n",
			"9:25", "10.0.0.1/24", "10.0.0.1 is also a VIP of instance VI_1 (t.conf:4:25): two instances with one address"},
		{"mixed family", inst("    virtual_ipaddress {\n        fd00::1/64\n    }\n"), "6:9", "fd00::1/64", "virtual_ipaddress mixes IPv4 and IPv6"},
		{"v2 fractional advert", inst("    advert_int 0.5\n"), "5:5", "advert_int", "VRRPv2 advertises whole seconds; 0.5 is not"},
		{"v3 sub-centisecond", inst("    version 3\n    advert_int 0.015\n"), "6:5", "advert_int", "VRRPv3 advertises centiseconds"},
		{"missing vrid", "vrrp_instance V {\n    interface eth0\n    virtual_ipaddress { 10.0.0.1 }\n}\n", "1:1", "vrrp_instance", "missing virtual_router_id"},
		{"missing interface", "vrrp_instance V {\n    virtual_router_id 5\n    virtual_ipaddress { 10.0.0.1 }\n}\n", "1:1", "vrrp_instance", "missing interface"},
		{"no vip", "vrrp_instance V {\n    interface eth0\n    virtual_router_id 5\n}\n", "1:1", "vrrp_instance", "has no virtual_ipaddress"},
		{"undefined track_script", "vrrp_script chk_haproxy { script /bin/true }\n" + inst("    track_script {\n        chk_haprxy\n    }\n"),
			"7:9", "chk_haprxy", `no vrrp_script chk_haprxy is defined; did you mean "chk_haproxy"?`},
		{"undefined track_file", inst("    track_file {\n        tf\n    }\n"), "6:9", "tf", "no track_file tf is defined"},
		{"sync group member", inst("") + "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_9\n    }\n}\n", "9:9", "VI_9", "no vrrp_instance VI_9 is defined"},
		{"granularity", vs("    persistence_timeout 60\n    persistence_granularity 255.0.255.0\n"), "3:5", "persistence_granularity", `"255.0.255.0" is not a netmask`},
		{"granularity word", vs("    persistence_granularity big\n"), "2:5", "persistence_granularity", "is not a netmask"},
		{"portless not persistent", "virtual_server 10.0.0.1 {\n    real_server 10.0.1.1 { }\n}\n", "1:1", "virtual_server", "the port may be omitted only for a persistent service"},
		{"duplicate vs", vs("") + vs(""), "5:1", "virtual_server", "virtual server 10.0.0.1:80 TCP defined twice (first at t.conf:1:1)"},
		{"duplicate rs", vs("    real_server 10.0.1.1 80 { }\n"), "3:5", "real_server", "real server 10.0.1.1:80 defined twice"},
		{"rs family", vs("    real_server fd00::5 80 { }\n"), "2:5", "real_server", "not of the address family"},
		{"dr port map", "virtual_server 10.0.0.1 80 {\n    lvs_method DR\n    real_server 10.0.1.1 8080 { }\n}\n", "3:5", "real_server", "DR forwarding cannot map port 80 to 8080 (only NAT can)"},
		{"no protocol", "virtual_server 10.0.0.1 80 {\n    real_server 10.0.1.1 80 { }\n}\n", "1:1", "virtual_server", "has no protocol; keepalived then uses UDP"},
		{"no real server", "virtual_server 10.0.0.1 80 {\n    protocol TCP\n}\n", "1:1", "virtual_server", "has no real_server"},
		{"ops tcp", vs("    ops\n"), "2:5", "ops", "one-packet scheduling needs protocol UDP"},
		{"ha_suspend fwmark", "virtual_server fwmark 3 {\n    ha_suspend\n    real_server 10.0.1.1 { }\n}\n", "2:5", "ha_suspend", "cannot be used with fwmark services"},
		{"quorum", vs("    quorum 5\n"), "2:5", "quorum", "quorum 5 exceeds the total weight 1 of the real servers"},
		{"hysteresis", vs("    hysteresis 1\n"), "2:5", "hysteresis", "hysteresis 1 must be less than quorum 1"},
		{"group entry without port", "virtual_server_group g {\n    10.0.0.1\n}\nvirtual_server group g {\n    protocol TCP\n    real_server 10.0.1.1 80 { }\n}\n", "2:5", "10.0.0.1", "an entry without a port needs a persistent service"},
		{"tun port map", "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    lvs_method TUN\n    real_server 10.0.1.1 81 { }\n}\n", "4:5", "real_server", "TUN forwarding cannot map port 80 to 81"},
		{"undefined group", "virtual_server group nope {\n    real_server 10.0.1.1 80 { }\n}\n", "1:1", "virtual_server", "no virtual_server_group nope is defined"},
		{"http without url", vs("") + "virtual_server 10.0.0.2 80 {\n    real_server 10.0.1.1 80 {\n        HTTP_GET { }\n    }\n}\n", "7:9", "HTTP_GET", "needs at least one url"},
		{"duplicate script", "vrrp_script a { script /x }\nvrrp_script a { script /y }\n", "2:1", "vrrp_script", "vrrp_script a defined twice (first at t.conf:1:1)"},
		{"block expected", inst("    virtual_ipaddress 10.0.0.9\n"), "5:5", "virtual_ipaddress", "expects a block"},
		{"no block expected", inst("    priority { 100 }\n"), "5:5", "priority", "does not take a block"},
		{"args count", inst("    interface eth0 eth1\n"), "5:5", "interface", "expects 1 argument(s), got 2"},
		// keepalived's instance checks (vrrp_complete_instance).
		{"strict auth", "global_defs {\n    vrrp_strict\n}\n" + inst("    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n"), "8:5", "authentication", "strict mode does not allow authentication"},
		{"strict master", "global_defs {\n    vrrp_strict\n}\n" + inst("    state MASTER\n    priority 200\n"), "8:5", "state", "state MASTER must match being the address owner"},
		{"strict unicast", "global_defs {\n    vrrp_strict\n}\n" + inst("    unicast_peer {\n        10.0.0.9\n    }\n"), "8:5", "unicast_peer", "strict mode does not allow unicast peers"},
		{"strict preempt_delay", inst("    strict_mode\n    preempt_delay 5\n"), "6:5", "preempt_delay", "strict mode does not allow preempt_delay"},
		{"v3 auth", inst("    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n"), "6:5", "authentication", "VRRPv3 has no authentication"},
		{"v6 version 2", "vrrp_instance V {\n    interface eth0\n    virtual_router_id 5\n    version 2\n    virtual_ipaddress { fe80::1/64 }\n}\n", "4:5", "version", "VRRPv2 is IPv4 only"},
		{"nopreempt master", inst("    state MASTER\n    priority 150\n    nopreempt\n"), "7:5", "nopreempt", "nopreempt does not work with state MASTER"},
		{"nopreempt owner", inst("    priority 255\n    state BACKUP\n    nopreempt\n"), "7:5", "nopreempt", "no meaning for the address owner"},
		{"preempt_delay nopreempt", inst("    nopreempt\n    preempt_delay 3\n"), "6:5", "preempt_delay", "contradicts nopreempt"},
		{"xmit base without vmac", inst("    vmac_xmit_base\n"), "5:5", "vmac_xmit_base", "needs use_vmac"},
		{"sync group weight", "vrrp_script s {\n    script /bin/true\n    weight 10\n}\n" + inst("    track_script {\n        s\n    }\n") + "vrrp_sync_group G {\n    group {\n        VI_1\n    }\n}\n",
			"10:9", "s", "track_script weight 10 ignored: instance VI_1 is a member of sync group G"},
		{"owner weight", inst("    priority 255\n    track_interface {\n        eth1 weight 10\n    }\n"), "7:9", "eth1", "track_interface weight 10 ignored: instance VI_1 is the address owner"},
		{"too many vips", "vrrp_instance V {\n    interface eth0\n    virtual_router_id 5\n    virtual_ipaddress {\n" + strings.Repeat("        10.0.0.1\n", 256) + "    }\n}\n", "4:5", "virtual_ipaddress", "256 VIPs do not fit one advert (at most 255)"},
		// Cluster.
		{"cluster no name", "cluster {\n    node a { address 10.0.0.1 }\n}\n", "1:1", "cluster", "missing name"},
		{"cluster no nodes", "cluster {\n    name x\n}\n", "1:1", "cluster", "no node blocks"},
		{"cluster link count", "cluster {\n    name x\n    node a { address 10.0.0.1 10.1.0.1 }\n    node b { address 10.0.0.2 }\n    node c { address 10.0.0.3 10.1.0.3 }\n}\n",
			"4:5", "node", "node b has 1 address(es) but node a has 2"},
		{"cluster dup address", "cluster {\n    name x\n    node a { address 10.0.0.1 }\n    node b { address 10.0.0.1 }\n    node c { address 10.0.0.3 }\n}\n",
			"4:5", "node", "address 10.0.0.1 of node b is also node a's"},
		{"cluster dup node", "cluster {\n    name x\n    node a { address 10.0.0.1 }\n    node a { address 10.0.0.2 }\n    node c { address 10.0.0.3 }\n}\n",
			"4:5", "node", "node a defined twice"},
		{"cluster lease", "cluster {\n    name x\n    node a { address 10.0.0.1 }\n    lease 500ms\n    heartbeat 200ms\n}\n", "1:1", "cluster", "lease 0.5 s must be at least 3 heartbeats"},
		{"cluster ports", "cluster {\n    name x\n    node a { address 10.0.0.1 10.1.0.1 }\n    raft_port 7002\n}\n", "1:1", "cluster", "raft_port 7002 collides with gossip ports 7001-7002"},
		{"cluster datapath", "cluster {\n    name x\n    datapath lvs\n}\n", "3:5", "datapath", `"lvs" is not one of auto, ipvs, nftables`},
		{"cluster gossip key", "cluster {\n    name x\n    gossip_key abc\n}\n", "3:5", "gossip_key", "must be 16, 24 or 32 bytes in base64"},
		{"cluster drift", "cluster {\n    name x\n    clock_drift 60%\n}\n", "3:5", "clock_drift", "is not a drift rate"},
		{"cluster api_listen", "cluster {\n    name x\n    api_listen 7070\n}\n", "3:5", "api_listen", `"7070" is not HOST:PORT`},
		{"webhook url", "cluster {\n    name x\n    webhook {\n        url ftp://example.com/x\n    }\n}\n", "4:9", "url", `"ftp://example.com/x" is not an absolute http or https URL`},
		{"webhook relative url", "cluster {\n    name x\n    webhook {\n        url /alerts\n    }\n}\n", "4:9", "url", `"/alerts" is not an absolute http or https URL`},
		{"webhook no url", "cluster {\n    name x\n    webhook {\n        retry 3\n    }\n}\n", "3:5", "webhook", "needs a url"},
		{"webhook retry", "cluster {\n    name x\n    webhook {\n        url http://h/\n        retry 0\n    }\n}\n", "5:9", "retry", "0 out of range 1-100"},
		{"webhook timeout", "cluster {\n    name x\n    webhook {\n        url http://h/\n        timeout 0\n    }\n}\n", "5:9", "timeout", "must be more than 0"},
		{"webhook header", "cluster {\n    name x\n    webhook {\n        url http://h/\n        header X-Token\n    }\n}\n", "5:9", "header", "argument"},
		{"webhook typo", "cluster {\n    name x\n    webhook {\n        ulr http://h/\n    }\n}\n", "4:9", "ulr", `did you mean "url"?`},
		{"second cluster", "cluster {\n    name x\n    node a { address 10.0.0.1 }\n}\ncluster {\n    name y\n}\n", "5:1", "cluster", "second cluster block (first at t.conf:1:1)"},
		// Node overrides.
		{"override unknown node", "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("    node d2 { priority 99 }\n"),
			"9:5", "node", `no node d2 in the cluster block (nodes: d1); did you mean "d1"?`},
		{"override without cluster", inst("    node d2 { priority 99 }\n"), "5:5", "node", "node override without a cluster block"},
		{"override bad value", "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("    node d1 { priority 300 }\n"),
			"9:15", "priority", "300 out of range 1-255"},
		{"override typo", "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("    node d1 { priorty 30 }\n"),
			"9:15", "priorty", `did you mean "priority"?`},
		{"override view vrid clash", "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("") +
			"vrrp_instance VI_2 {\n    interface eth1\n    virtual_router_id 51\n    virtual_ipaddress { 10.0.0.2/24 }\n    node d1 { interface eth0 }\n}\n",
			"12:5", "virtual_router_id", "on node d1: VRID 51 is already used on interface eth0"},
		{"vs node override", vs("    node d1 { weight 3 }\n"), "2:5", "node", "virtual servers take no node overrides"},
		{"nested node", "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("    node d1 {\n        node d1 { priority 5 }\n    }\n"),
			"10:9", "node", "node blocks do not nest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("t.conf", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse error = %v, want an ErrorList", err)
			}
			for _, e := range list {
				if e.Pos.File == "t.conf" && e.Pos.String() == "t.conf:"+tt.pos && e.Keyword == tt.keyword && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no error at t.conf:%s keyword %q containing %q; got:\n%v", tt.pos, tt.keyword, tt.msg, err)
		})
	}
}

// TestAllErrorsCollected checks that parsing goes on after an error and
// reports every problem, in file order for independent statements.
func TestAllErrorsCollected(t *testing.T) {
	src := `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 300
    priority 0
    advert_interval 1
    virtual_ipaddress { 10.0.0.1/24 }
}
virtual_server 10.0.0.1 80 {
    lb_algo nope
    real_server 10.0.1.1 80 { weight -1 }
}
`
	_, _, err := Parse("t.conf", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatal(err)
	}
	want := []string{
		"t.conf:3:5: virtual_router_id: 300 out of range 1-255",
		"t.conf:4:5: priority: 0 out of range 1-255",
		`t.conf:5:5: advert_interval: unknown keyword in vrrp_instance; did you mean "advert_int"?`,
		`t.conf:9:5: lb_algo: "nope" is not one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos`,
		"t.conf:10:31: weight: -1 out of range 0-65535",
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

func TestValidConfigsHaveNoErrors(t *testing.T) {
	for name, src := range map[string]string{
		"granularity prefix v6":   "virtual_server fd00::1 80 {\n    protocol TCP\n    persistence_timeout\n    persistence_granularity 64\n    real_server fd00::2 80 { }\n}\n",
		"granularity mask":        vs("    persistence_timeout 30\n    persistence_granularity 255.255.255.0\n"),
		"same vrid other iface":   inst("") + "vrrp_instance VI_2 {\n    interface eth1\n    virtual_router_id 51\n    virtual_ipaddress { 10.0.0.2/24 }\n}\n",
		"same vrid other family":  inst("") + "vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress { fd00::2/64 }\n}\n",
		"v3 centiseconds":         inst("    version 3\n    advert_int 0.25\n"),
		"excluded mixes":          inst("    virtual_ipaddress_excluded {\n        fd00::9/64\n        10.9.9.9\n    }\n"),
		"unicast no interface":    "vrrp_instance U {\n    virtual_router_id 3\n    unicast_peer { 10.0.0.2 }\n    virtual_ipaddress { 10.0.0.9 }\n}\n",
		"fwmark in both families": "virtual_server fwmark 7 {\n    real_server 10.0.1.1 80 { }\n}\nvirtual_server fwmark 7 {\n    ip_family inet6\n    real_server fd00::5 80 { }\n}\n",
		"tun mixes family":        "virtual_server 10.0.0.1 80 {\n    protocol TCP\n    lvs_method TUN\n    real_server fd00::5 80 { }\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Parse("t.conf", []byte(src)); err != nil {
				t.Errorf("unexpected error:\n%v", err)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := instanceTable.keys()
	for word, want := range map[string]string{
		"advert_interval":    "advert_int",
		"advert_int":         "advert_int",
		"virtual_router":     "virtual_routes",
		"virtual_routerid":   "virtual_router_id",
		"STATE":              "state",
		"virutal_router_id":  "virtual_router_id",
		"priorty":            "priority",
		"nopremept":          "nopreempt",
		"autentication":      "authentication",
		"track_interfaces":   "track_interface",
		"xyz":                "",
		"completely_unknown": "",
	} {
		if got := suggest(word, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := suggest("auth_typ", authTable.keys()); got != "auth_type" {
		t.Errorf("auth_typ -> %q", got)
	}
	if d := osaDistance("ab", "ba"); d != 1 {
		t.Errorf("transposition distance %d, want 1", d)
	}
	if d := osaDistance("kitten", "sitting"); d != 3 {
		t.Errorf("kitten/sitting %d, want 3", d)
	}
}

// TestOverrideErrorsReportedWithOthers: a typo inside a node override is
// reported even when the file has other errors, and only once.
func TestOverrideErrorsReportedWithOthers(t *testing.T) {
	src := "cluster {\n    name x\n    node d1 { address 10.0.0.1 }\n}\n" + inst("    node d1 { priorty 30 }\n    priority 999\n")
	_, _, err := Parse("t.conf", []byte(src))
	want := "t.conf:9:15: priorty: unknown keyword in vrrp_instance; did you mean \"priority\"?\n" +
		"t.conf:10:5: priority: 999 out of range 1-255"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
