// Package arch holds the guardrail tests of the module's architecture: every
// package has a doc comment, dependencies point one way
// (cmd → cluster → vrrp, lvs, health, fencing → config), the deterministic
// cores import no kernel or process APIs, and shipped code never imports
// the testing package.
package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Dir        string
	GoFiles    []string
}

// listPackages runs `go list -json` over the module for one GOOS, so that
// files behind build tags are seen as the compiler of that OS sees them.
func listPackages(t *testing.T, goos string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "vigil/...")
	cmd.Env = append(cmd.Environ(), "GOOS="+goos)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func TestEveryPackageHasADoc(t *testing.T) {
	for _, p := range listPackages(t, "linux") {
		if len(p.GoFiles) > 0 && strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment (// Package %s ...)", p.ImportPath, p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:])
		}
	}
}

// layer of each top-level package: a package may import only vigil
// packages of a strictly lower layer (or its own subpackages).
var layer = map[string]int{
	"config":  0,
	"vrrp":    1,
	"lvs":     1,
	"health":  1,
	"fencing": 1,
	"cluster": 2,
	"cmd":     3,
	"test":    4,
}

// allowed are the deliberate exceptions to the layering, each with its
// reason.
var allowed = map[[2]string]bool{
	// vigil demo builds its lab of namespaces with the test harness: the
	// same code that the end-to-end tests prove.
	{"vigil/cmd/vigil", "vigil/test/netns"}: true,
}

func top(importPath string) string {
	p := strings.TrimPrefix(importPath, "vigil/")
	if i := strings.Index(p, "/"); i >= 0 {
		p = p[:i]
	}
	return p
}

func TestDependenciesPointOneWay(t *testing.T) {
	for _, p := range listPackages(t, "linux") {
		from := top(p.ImportPath)
		lf, ok := layer[from]
		if !ok {
			t.Errorf("%s: top-level directory %q is not one of the module's packages", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "vigil/") {
				continue
			}
			to := top(imp)
			if to == from || allowed[[2]string{p.ImportPath, imp}] {
				continue
			}
			if lt := layer[to]; lt >= lf {
				t.Errorf("%s imports %s: dependencies point cmd → cluster → (vrrp, lvs, health, fencing) → config", p.ImportPath, imp)
			}
		}
	}
}

// kernelAPIs may not appear in the deterministic cores, nor anywhere in a
// build for an OS other than Linux except through *_other.go twins.
var kernelAPIs = []string{
	"golang.org/x/sys/unix",
	"github.com/vishvananda/netlink",
	"github.com/google/nftables",
	"github.com/moby/ipvs",
	"github.com/mdlayher/arp",
	"os/exec",
}

func TestConfigIsPure(t *testing.T) {
	for _, p := range listPackages(t, "linux") {
		if top(p.ImportPath) != "config" {
			continue
		}
		for _, imp := range p.Imports {
			for _, bad := range kernelAPIs {
				if imp == bad {
					t.Errorf("%s imports %s: config only reads files and builds the model", p.ImportPath, imp)
				}
			}
		}
	}
}

// TestKernelCodeIsLinuxOnly builds the package list for another OS: a
// package that still imports a Linux kernel API there lacks its
// *_other.go twin, and `go test ./...` would not build off Linux.
func TestKernelCodeIsLinuxOnly(t *testing.T) {
	for _, p := range listPackages(t, "darwin") {
		if top(p.ImportPath) == "test" {
			continue // the namespace harness is Linux-only by nature
		}
		for _, imp := range p.Imports {
			for _, bad := range kernelAPIs[:5] {
				if imp == bad {
					t.Errorf("%s imports %s outside a _linux.go file", p.ImportPath, imp)
				}
			}
		}
	}
}

func TestShippedCodeDoesNotImportTesting(t *testing.T) {
	for _, p := range listPackages(t, "linux") {
		if top(p.ImportPath) == "test" || strings.HasSuffix(p.ImportPath, "test") {
			continue // test harnesses and fakes (lvs/lvstest) are for tests
		}
		for _, imp := range p.Imports {
			if imp == "testing" {
				t.Errorf("%s imports testing in non-test code", p.ImportPath)
			}
		}
	}
}
