package agent

import (
	"strings"
	"testing"

	"vigil/config"
)

func TestIdentityDiff(t *testing.T) {
	parse := func(cluster string) *config.Config {
		t.Helper()
		c, _, err := config.Parse("test.conf", []byte("cluster {\n"+cluster+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse("name a\nnode d1 { address 10.0.0.1 10.1.0.1 }\nnode d2 { address 10.0.0.2 10.1.0.2 }\nnode d3 { address 10.0.0.3 10.1.0.3 }\n")
	for _, tc := range []struct {
		name, cluster, want string
	}{
		{"same", "name a\nnode d1 { address 10.0.0.1 10.1.0.1 }\nnode d2 { address 10.0.0.2 10.1.0.2 }\nnode d3 { address 10.0.0.3 10.1.0.3 }\n", ""},
		{"a node added", "name a\nnode d1 { address 10.0.0.1 10.1.0.1 }\nnode d2 { address 10.0.0.2 10.1.0.2 }\nnode d3 { address 10.0.0.3 10.1.0.3 }\nnode d4 { address 10.0.0.4 10.1.0.4 }\n", ""},
		{"a node removed", "name a\nnode d1 { address 10.0.0.1 10.1.0.1 }\nnode d2 { address 10.0.0.2 10.1.0.2 }\nnode d4 { address 10.0.0.4 10.1.0.4 }\n", ""},
		{"renamed", "name b\nnode d1 { address 10.0.0.1 10.1.0.1 }\n", `cluster name "b", not "a"`},
		{"an address moved", "name a\nnode d1 { address 10.0.0.1 10.1.0.1 }\nnode d2 { address 10.0.0.9 10.1.0.2 }\nnode d3 { address 10.0.0.3 10.1.0.3 }\n", "node d2 has addresses [10.0.0.9 10.1.0.2], not [10.0.0.2 10.1.0.2]"},
		{"one link less", "name a\nnode d1 { address 10.0.0.1 }\nnode d2 { address 10.0.0.2 }\nnode d3 { address 10.0.0.3 }\n", "1 heartbeat links, not 2"},
	} {
		got := IdentityDiff(base, parse(tc.cluster))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: IdentityDiff = %q, want %q", tc.name, got, tc.want)
		}
	}
}
