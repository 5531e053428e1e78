package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/golden")

// TestGolden parses every testdata/*.conf and compares the normalized model
// (what `vigil config dump --json` prints) with testdata/golden/NAME.json,
// the warnings with NAME.warnings, and for a cluster configuration each
// node's view with NAME.NODE.json. Regenerate with
// `go test ./config -run Golden -rewrite` and review the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.conf: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".conf")
		t.Run(name, func(t *testing.T) {
			c, warns, err := ParseFile(f)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			golden(t, name+".json", dumpJSON(t, c))
			var w bytes.Buffer
			for _, x := range warns {
				w.WriteString(x.String() + "\n")
			}
			golden(t, name+".warnings", w.Bytes())
			if c.Cluster != nil {
				for _, n := range c.Cluster.Nodes {
					v, err := c.ForNode(n.Name)
					if err != nil {
						t.Fatal(err)
					}
					golden(t, name+"."+n.Name+".json", dumpJSON(t, v))
				}
			}
			// The normalized text re-parses to the same model.
			again, _, err := Parse(f, []byte(Format(c.Tree)))
			if err != nil {
				t.Fatalf("Format output does not parse: %v", err)
			}
			if !bytes.Equal(dumpJSON(t, again), dumpJSON(t, c)) {
				t.Errorf("Format round trip changes the model")
			}
		})
	}
}

func dumpJSON(t *testing.T, c *Config) []byte {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *rewrite {
		if len(got) == 0 {
			os.Remove(path)
			return
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) && len(got) == 0 {
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test ./config -run Golden -rewrite)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// TestDumpJSONFieldNames pins the JSON names tools depend on.
func TestDumpJSONFieldNames(t *testing.T) {
	c, _ := mustParse(t, clusterConf+`virtual_server 10.0.0.200 80 {
    protocol TCP
    persistence_timeout
    real_server 10.0.1.1 80 {
        TCP_CHECK { }
    }
}`)
	var m map[string]any
	if err := json.Unmarshal(dumpJSON(t, c), &m); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"global_defs.router_id", "global_defs.vrrp_garp_master_delay", "global_defs.vrrp_version",
		"cluster.name", "cluster.nodes.0.address", "cluster.lease", "cluster.raft_port", "cluster.gossip_port",
		"vrrp_instances.0.virtual_router_id", "vrrp_instances.0.advert_int", "vrrp_instances.0.node_overrides.d2",
		"virtual_servers.0.lvs_sched", "virtual_servers.0.lvs_method", "virtual_servers.0.persistence_timeout",
		"virtual_servers.0.real_servers.0.weight", "virtual_servers.0.real_servers.0.checkers.0.connect_timeout",
	} {
		var cur any = m
		for _, k := range strings.Split(path, ".") {
			switch v := cur.(type) {
			case map[string]any:
				cur = v[k]
			case []any:
				cur = v[0]
			}
		}
		if cur == nil {
			t.Errorf("JSON has no %s", path)
		}
	}
	if got := m["virtual_servers"].([]any)[0].(map[string]any)["persistence_timeout"]; got != 360.0 {
		t.Errorf("persistence_timeout = %v, want the number 360", got)
	}
}
