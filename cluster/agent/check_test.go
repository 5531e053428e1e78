package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/config"
)

// TestCheckNamesFileLineKeyword: what parses but cannot run on a director
// is reported at the statement at fault.
func TestCheckNamesFileLineKeyword(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.conf")
	src := `cluster {
    name t
    node d1 { address 10.0.0.1 }
    node d2 { address 10.0.0.2 }
    node d3 { address 10.0.0.3 }
    datapath nftables
}
virtual_server 10.0.0.200 80 {
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    real_server 10.0.1.1 80 {
        HTTP_GET {
            url {
                path /
                regex "(unclosed"
            }
        }
    }
    real_server 10.0.1.2 80 {
        MISC_CHECK {
            misc_path "/nonexistent/script.sh"
        }
    }
}
virtual_server 10.0.0.201 80 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 10.0.1.1 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	errs := Check(c)
	want := []struct {
		line    int
		keyword string
		msg     string
	}{
		{16, "regex", "missing closing )"},
		{22, "misc_path", "/nonexistent/script.sh"},
		{8, "virtual_server", "scheduler wlc has no nftables equivalent"},
	}
	if len(errs) != len(want) {
		t.Fatalf("Check found %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		e := errs[i]
		if e.Pos.File != path || e.Pos.Line != w.line || e.Keyword != w.keyword || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d = %v; want %s:%d %s: ...%s...", i, e, path, w.line, w.keyword, w.msg)
		}
	}
}

// TestCheckNFTablesIPv6AndFWMark: IPv6 and fwmark services, the same
// fwmark in both families and the same address and port in TCP and UDP
// (DNS) pass; a fwmark service mixing real servers with and without a
// port is refused at its line, naming the datapath once.
func TestCheckNFTablesIPv6AndFWMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.conf")
	src := `cluster {
    name t
    node d1 { address 10.0.0.1 }
    node d2 { address 10.0.0.2 }
    node d3 { address 10.0.0.3 }
    datapath nftables
}
virtual_server fd00::200 80 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server fd00:1::1 8080 {
    }
}
virtual_server fwmark 7 {
    lvs_sched wrr
    lvs_method NAT
    real_server 10.0.1.1 80 {
    }
}
virtual_server fwmark 7 {
    ip_family inet6
    lvs_sched sh
    lvs_method NAT
    real_server fd00:1::1 {
    }
}
virtual_server fwmark 8 {
    lvs_sched mh
    lvs_method NAT
    real_server 10.0.1.1 80 {
    }
    real_server 10.0.1.2 {
    }
}
virtual_server 10.0.0.9 53 {
    lvs_sched mh
    lvs_method NAT
    protocol TCP
    real_server 10.0.1.1 53 {
    }
}
virtual_server 10.0.0.9 53 {
    lvs_sched mh
    lvs_method NAT
    protocol UDP
    real_server 10.0.1.1 53 {
    }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	errs := Check(c)
	if len(errs) != 1 || errs[0].Pos.Line != 28 || errs[0].Keyword != "virtual_server" ||
		!strings.Contains(errs[0].Msg, "mixes real servers with a port and without one") {
		t.Fatalf("Check = %v, want one error at line 28 for fwmark 8", errs)
	}
	if n := strings.Count(errs[0].Msg, "nftables datapath"); n != 1 {
		t.Errorf("the message names the datapath %d times, want once: %s", n, errs[0].Msg)
	}
}
