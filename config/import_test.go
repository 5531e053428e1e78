package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"vigil/config"
)

// rewriteGoldens reports whether -rewrite was given: the one flag that
// regenerates every golden file of the package (golden_test.go defines it
// in package config, initialized before this package; define it here only
// if it is not there).
func rewriteGoldens() bool {
	f := flag.Lookup("rewrite")
	return f != nil && f.Value.String() == "true"
}

func init() {
	if flag.Lookup("rewrite") == nil {
		flag.Bool("rewrite", false, "rewrite the golden files in testdata")
	}
}

// importDir imports every *.conf of testdata/import/DIR, in name order.
func importDir(t *testing.T, dir string, opt config.ImportOptions) (*config.Imported, error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "import", dir, "*.conf"))
	if err != nil || len(files) < 2 {
		t.Fatalf("testdata/import/%s: want at least two .conf files, got %v (%v)", dir, files, err)
	}
	return config.ImportFiles(files, opt)
}

// golden compares got with testdata/import/DIR/NAME, or rewrites it with -rewrite.
func golden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "import", dir, name)
	if rewriteGoldens() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Import -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (review, then -rewrite):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkImported asserts that an imported configuration parses on its own and
// has a cluster block with the given nodes.
func checkImported(t *testing.T, res *config.Imported, nodes ...string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("imported.conf", res.Config)
	if err != nil {
		t.Fatalf("the imported configuration does not parse:\n%v\n%s", err, res.Config)
	}
	if strings.Join(res.Nodes, ",") != strings.Join(nodes, ",") {
		t.Errorf("nodes %v, want %v", res.Nodes, nodes)
	}
	if cfg.Cluster == nil {
		t.Fatalf("imported configuration has no cluster block")
	}
	return cfg
}

func TestImportPair(t *testing.T) {
	res, err := importDir(t, "pair", config.ImportOptions{})
	if err != nil {
		t.Fatalf("a consistent pair must import: %v", err)
	}
	golden(t, "pair", "want.conf.golden", res.Config)
	checkImported(t, res, "d1", "d2")
	// notification_email_from is per host: a warning, never drift.
	if len(res.Warnings) != 1 || res.Warnings[0].Keyword != "notification_email_from" ||
		res.Warnings[0].Pos.Line != 6 || filepath.Base(res.Warnings[0].Pos.File) != "d2.conf" {
		t.Errorf("warnings %v, want one on d2.conf:6 notification_email_from", res.Warnings)
	}
}

func TestImportTrioInfersAddresses(t *testing.T) {
	res, err := importDir(t, "trio", config.ImportOptions{Names: []string{"a", "b", "c"}, ClusterName: "edge"})
	if err != nil {
		t.Fatalf("a consistent trio must import: %v", err)
	}
	golden(t, "trio", "want.conf.golden", res.Config)
	checkImported(t, res, "a", "b", "c")
	for i, want := range []string{"10.1.0.11", "10.1.0.12", "10.1.0.13"} {
		if !bytes.Contains(res.Config, []byte("node "+res.Nodes[i]+" { address "+want+" }")) {
			t.Errorf("node %s: address %s not inferred", res.Nodes[i], want)
		}
	}
	if len(res.Warnings) != 3 {
		t.Errorf("want one warning per inferred address, got %v", res.Warnings)
	}
}

func TestImportDriftReportsBothFilesAndLines(t *testing.T) {
	res, err := importDir(t, "drift", config.ImportOptions{})
	if res != nil || err == nil {
		t.Fatalf("a drifted pair must not import, got %v, %v", res, err)
	}
	var drift config.DriftList
	if !errors.As(err, &drift) {
		t.Fatalf("error is %T, want config.DriftList: %v", err, err)
	}
	var d *config.DriftError
	if !errors.As(err, &d) || d != drift[0] {
		t.Errorf("errors.As does not find the first DriftError")
	}
	golden(t, "drift", "want.errors", []byte(err.Error()+"\n"))
	for _, d := range drift {
		if filepath.Base(d.A.File) != "d1.conf" || filepath.Base(d.B.File) != "d2.conf" {
			t.Errorf("%v: want positions in d1.conf and d2.conf", d)
		}
	}
}

func TestImportNoAddressIsATODO(t *testing.T) {
	res, err := importDir(t, "noaddr", config.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "noaddr", "want.conf.golden", res.Config)
	if len(res.Warnings) != 2 {
		t.Fatalf("want a warning per node without an address, got %v", res.Warnings)
	}
	for i, w := range res.Warnings {
		if !strings.Contains(w.Msg, "cannot determine the address of node "+res.Nodes[i]) || w.Pos.Line != 2 {
			t.Errorf("warning %d: %v", i, w)
		}
	}
	if !bytes.Contains(res.Config, []byte("# TODO: address of a")) {
		t.Errorf("no TODO comment for node a:\n%s", res.Config)
	}
	// Until the operator fills the addresses in, `vigil config check`
	// points at exactly the two node lines.
	_, _, err = config.Parse("imported.conf", res.Config)
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("want two errors from the unfinished configuration, got %v", err)
	}
	lines := strings.Split(string(res.Config), "\n")
	for i, e := range list {
		want := "    node " + res.Nodes[i] + " {"
		if e.Pos.Line < 1 || e.Pos.Line > len(lines) || lines[e.Pos.Line-1] != want {
			t.Errorf("error %v does not point at %q", e, want)
		}
	}
}

func TestImportBadInput(t *testing.T) {
	one := []byte("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n")
	for _, tc := range []struct {
		name  string
		files []string
		srcs  [][]byte
		opt   config.ImportOptions
		want  string
	}{
		{"one file", []string{"a.conf"}, [][]byte{one}, config.ImportOptions{}, "at least two nodes"},
		{"names count", []string{"a.conf", "b.conf"}, [][]byte{one, one}, config.ImportOptions{Names: []string{"x"}}, "1 node names for 2 files"},
		{"name twice", []string{"a.conf", "b.conf"}, [][]byte{one, one}, config.ImportOptions{Names: []string{"x", "x"}}, `node name "x" given twice`},
		{"bad name", []string{"a.conf", "b.conf"}, [][]byte{one, one}, config.ImportOptions{Names: []string{"x y", "z"}}, `bad node name "x y"`},
		{"address of a stranger", []string{"a.conf", "b.conf"}, [][]byte{one, one}, config.ImportOptions{Addresses: map[string][]string{"c": {"10.0.0.1"}}}, `address given for "c", which is not a node`},
		{"bad address", []string{"a.conf", "b.conf"}, [][]byte{one, one}, config.ImportOptions{Addresses: map[string][]string{"a": {"10.0.0.300"}}}, `node a: bad address "10.0.0.300"`},
		{"already vigil", []string{"a.conf", "b.conf"}, [][]byte{one, append([]byte("cluster {\n name x\n}\n"), one...)}, config.ImportOptions{}, "b.conf:1:1: cluster: this is already a vigil configuration"},
		{"bad value", []string{"a.conf", "b.conf"}, [][]byte{one, bytes.Replace(one, []byte("virtual_router_id 1"), []byte("virtual_router_id 300"), 1)}, config.ImportOptions{}, "b.conf:3:2: virtual_router_id:"},
		{"syntax", []string{"a.conf", "b.conf"}, [][]byte{one, []byte("vrrp_instance VI_1 {\n")}, config.ImportOptions{}, "b.conf:1:1: vrrp_instance:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Import(tc.files, tc.srcs, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestImportDefaultNames: file names become node names unless they clash.
func TestImportDefaultNames(t *testing.T) {
	src := []byte("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n unicast_src_ip 10.0.0.1\n unicast_peer {\n 10.0.0.2\n }\n virtual_ipaddress {\n 10.0.0.100\n }\n}\n")
	src2 := bytes.ReplaceAll(bytes.ReplaceAll(src, []byte("10.0.0.1\n"), []byte("10.0.0.x\n")), []byte("10.0.0.2\n"), []byte("10.0.0.1\n"))
	src2 = bytes.ReplaceAll(src2, []byte("10.0.0.x\n"), []byte("10.0.0.2\n"))
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{"/etc/lb1/lb-east.conf", "/etc/lb2/lb-west.conf"}, "lb-east,lb-west"},
		{[]string{"/etc/lb1/keepalived.conf", "/etc/lb2/keepalived.conf"}, "node1,node2"},
	} {
		res, err := config.Import(tc.files, [][]byte{src, src2}, config.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(res.Nodes, ","); got != tc.want {
			t.Errorf("%v: nodes %s, want %s", tc.files, got, tc.want)
		}
		checkImported(t, res, res.Nodes...)
	}
}

// TestImportIdenticalCopiesKeepsTheModel imports two identical copies of
// every valid corpus file vigil accepts (node addresses given), and asserts the
// result describes exactly the same instances, scripts and virtual servers
// as the original (the JSON model, cluster block aside).
func TestImportIdenticalCopiesKeepsTheModel(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "valid-*.conf"))
	n := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			orig, _, err := config.ParseFile(f)
			if err != nil {
				// TestCorpusExpectations reports a valid file vigil
				// rejects; there is no model to compare here.
				t.Logf("vigil rejects this valid corpus file: %v", err)
				return
			}
			res, err := config.ImportFiles([]string{f, f}, config.ImportOptions{
				Names:     []string{"n1", "n2"},
				Addresses: map[string][]string{"n1": {"192.0.2.1"}, "n2": {"192.0.2.2"}},
			})
			if err != nil {
				t.Fatalf("importing two copies of one file: %v", err)
			}
			n++
			got, _, err := config.Parse("imported.conf", res.Config)
			if err != nil {
				t.Fatalf("imported configuration does not parse: %v\n%s", err, res.Config)
			}
			got.Cluster, orig.Cluster = nil, nil
			a, _ := json.MarshalIndent(orig, "", " ")
			b, _ := json.MarshalIndent(got, "", " ")
			if !bytes.Equal(a, b) {
				t.Errorf("model changed by the import:\n--- original\n%s\n--- imported\n%s", a, b)
			}
		})
	}
	if n < 30 {
		t.Errorf("only %d corpus files imported", n)
	}
}

// TestImportSameFileTwice: two nodes cannot share an address; importing one
// node's file twice is the classic mistake.
func TestImportSameFileTwice(t *testing.T) {
	f := filepath.Join("testdata", "import", "pair", "d1.conf")
	_, err := config.ImportFiles([]string{f, f}, config.ImportOptions{Names: []string{"x", "y"}})
	var drift config.DriftList
	if !errors.As(err, &drift) || len(drift) != 1 {
		t.Fatalf("want one drift error, got %v", err)
	}
	want := f + ":17:5 and " + f + ":17:5: cluster: nodes x and y would both have the address 10.0.0.11"
	if !strings.HasPrefix(drift[0].Error(), want) {
		t.Errorf("got  %s\nwant %s...", drift[0], want)
	}
}

// TestImportForNodeReproducesEachFile: the imported configuration, as each
// node sees it (Config.ForNode applies the node overrides), describes the
// same instances, scripts, sync groups and virtual servers as that node's
// own keepalived.conf.
func TestImportForNodeReproducesEachFile(t *testing.T) {
	for _, dir := range []string{"pair", "trio"} {
		t.Run(dir, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", "import", dir, "*.conf"))
			res, err := config.ImportFiles(files, config.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := checkImported(t, res, res.Nodes...)
			for i, f := range files {
				orig, _, err := config.ParseFile(f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cfg.ForNode(res.Nodes[i])
				if err != nil {
					t.Fatalf("ForNode(%s): %v", res.Nodes[i], err)
				}
				// "dev IFACE" naming the instance's own interface is
				// what keepalived does anyway; the import leaves it out
				// where the interface differs per node.
				for _, c := range []*config.Config{got, orig} {
					for _, inst := range c.Instances {
						for _, l := range [][]config.VIP{inst.VirtualIPAddresses, inst.VirtualIPExcluded} {
							for k := range l {
								if l[k].Dev == inst.Interface {
									l[k].Dev = ""
								}
							}
						}
					}
				}
				for _, part := range []struct {
					name      string
					got, want any
				}{
					{"vrrp_instances", got.Instances, orig.Instances},
					{"vrrp_scripts", got.Scripts, orig.Scripts},
					{"vrrp_sync_groups", got.SyncGroups, orig.SyncGroups},
					{"virtual_servers", got.VirtualServers, orig.VirtualServers},
				} {
					a, _ := json.MarshalIndent(part.want, "", " ")
					b, _ := json.MarshalIndent(part.got, "", " ")
					if !bytes.Equal(a, b) {
						t.Errorf("node %s: %s differ from %s:\n--- %s\n%s\n--- imported\n%s", res.Nodes[i], part.name, f, f, a, b)
					}
				}
			}
		})
	}
}

// FuzzImport: whatever two files hold, Import does not panic, what it
// produces is syntactically sound keepalived.conf, and one file imported
// twice (addresses given) always imports.
func FuzzImport(f *testing.F) {
	for _, dir := range []string{"pair", "drift", "noaddr"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "import", dir, "*.conf"))
		a, _ := os.ReadFile(files[0])
		b, _ := os.ReadFile(files[1])
		f.Add(a, b)
	}
	f.Add([]byte("vrrp_instance \"V I\" {\n interface eth0\n notify \"/bin/x \\\"q\\\" #!{}\"\n}\n"), []byte("vrrp_instance \"V I\" {\n interface eth1\n}\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		// Includes would read whatever the fuzzer names on this machine.
		if bytes.Contains(a, []byte("include")) || bytes.Contains(b, []byte("include")) {
			return
		}
		res, err := config.Import([]string{"/nonexistent/a.conf", "/nonexistent/b.conf"}, [][]byte{a, b}, config.ImportOptions{})
		if err != nil {
			return
		}
		if _, err := config.ParseTree("out.conf", res.Config); err != nil {
			t.Fatalf("imported configuration has syntax errors: %v\n%s", err, res.Config)
		}
		// One file imported twice always works (addresses given).
		res2, err := config.Import([]string{"/nonexistent/c.conf", "/nonexistent/d.conf"}, [][]byte{a, a}, config.ImportOptions{Names: []string{"x", "y"}, Addresses: map[string][]string{"x": {"192.0.2.1"}, "y": {"192.0.2.2"}}})
		if err != nil {
			t.Fatalf("importing one file twice fails although it imported with another: %v", err)
		}
		if _, err := config.ParseTree("out2.conf", res2.Config); err != nil {
			t.Fatalf("imported configuration has syntax errors: %v\n%s", err, res2.Config)
		}
	})
}

// TestImportConfigIDLines: one keepalived.conf shared by both directors
// through keepalived's @ID conditional lines imports as two nodes, each
// file being read with its node name as the config id.
func TestImportConfigIDLines(t *testing.T) {
	f := filepath.Join("testdata", "import", "configid", "keepalived.conf")
	res, err := config.ImportFiles([]string{f, f}, config.ImportOptions{Names: []string{"lb1", "lb2"}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "configid", "want.conf.golden", res.Config)
	cfg := checkImported(t, res, "lb1", "lb2")
	for _, tc := range []struct {
		node, state string
		prio        int
	}{{"lb1", "MASTER", 200}, {"lb2", "BACKUP", 100}} {
		n, err := cfg.ForNode(tc.node)
		if err != nil {
			t.Fatal(err)
		}
		inst := n.Instance("VI_1")
		if inst.State != tc.state || inst.Priority != tc.prio {
			t.Errorf("%s: state %s priority %d, want %s %d", tc.node, inst.State, inst.Priority, tc.state, tc.prio)
		}
	}
}

// TestImportTwoLinks: instances on two networks give each node two
// addresses, in the same link order on every node even when the files list
// the instances in different orders.
func TestImportTwoLinks(t *testing.T) {
	inst := func(name, ifname string, vrid int, src, peer, vip string) string {
		return "vrrp_instance " + name + " {\n    interface " + ifname + "\n    virtual_router_id " + strconv.Itoa(vrid) +
			"\n    unicast_src_ip " + src + "\n    unicast_peer {\n        " + peer + "\n    }\n    virtual_ipaddress {\n        " + vip + "\n    }\n}\n"
	}
	d1 := inst("VI_FRONT", "eth0", 1, "10.0.0.11", "10.0.0.12", "10.0.0.100/24") + inst("VI_BACK", "eth1", 2, "192.168.0.11", "192.168.0.12", "192.168.0.100/24")
	d2 := inst("VI_BACK", "eth1", 2, "192.168.0.12", "192.168.0.11", "192.168.0.100/24") + inst("VI_FRONT", "eth0", 1, "10.0.0.12", "10.0.0.11", "10.0.0.100/24")
	res, err := config.Import([]string{"d1.conf", "d2.conf"}, [][]byte{[]byte(d1), []byte(d2)}, config.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := checkImported(t, res, "d1", "d2")
	for _, want := range []string{"node d1 { address 10.0.0.11 192.168.0.11 }", "node d2 { address 10.0.0.12 192.168.0.12 }"} {
		if !bytes.Contains(res.Config, []byte(want)) {
			t.Errorf("want %q in\n%s", want, res.Config)
		}
	}
	if len(cfg.Instances) != 2 || cfg.Instances[0].Name != "VI_FRONT" {
		t.Errorf("instances not in the first file's order: %+v", cfg.Instances)
	}
}
