package lvs_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCoreImports keeps the deterministic core free of the kernel: package
// lvs (desired state, Diff, Reconcile) must not import netlink, nftables,
// IPVS, x/sys/unix, os/exec or testing (STYLE.md #15). Datapaths live in
// subpackages.
func TestCoreImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	denied := []string{"github.com/google/nftables", "github.com/mdlayher/netlink", "github.com/moby/ipvs",
		"github.com/vishvananda/", "golang.org/x/sys/unix", "os/exec", "syscall\x00", "testing"}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, d := range denied {
				if strings.HasPrefix(p, strings.TrimSuffix(d, "\x00")) && (!strings.HasSuffix(d, "\x00") || p == strings.TrimSuffix(d, "\x00")) {
					if p == "syscall" && f == "errors.go" {
						continue // only for the errno values of ErrExist/ErrNotExist
					}
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no files checked")
	}
}
