package cluster

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCoreIsDeterministic enforces the core's contract on its own source:
// no clock reads, no goroutines, no randomness, no I/O imports.
func TestCoreIsDeterministic(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{"os": true, "os/exec": true, "net": true, "math/rand": true, "math/rand/v2": true,
		"crypto/rand": true, "golang.org/x/sys/unix": true, "testing": true, "sync": true}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		checked++
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if banned[p] || strings.Contains(p, "netlink") || strings.Contains(p, "hashicorp") {
				t.Errorf("%s imports %s: the core does no I/O and holds no locks", fset.Position(im.Pos()), p)
			}
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: the core starts no goroutines", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && (n.Sel.Name == "Now" || n.Sel.Name == "Since" || n.Sel.Name == "Until" || n.Sel.Name == "Sleep" || n.Sel.Name == "After" || n.Sel.Name == "NewTimer" || n.Sel.Name == "NewTicker") {
					t.Errorf("%s: time.%s in the core: time comes in with each event", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked only %d files", checked)
	}
}

func TestNewCoreRejects(t *testing.T) {
	good := Config{Node: "a", Timing: DefaultTiming(), Instances: []InstanceSpec{{Name: "vi", Priority: map[string]int{"a": 100}}}}
	if _, err := NewCore(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no node":            func(c *Config) { c.Node = "" },
		"bad timing":         func(c *Config) { c.Timing.Renew = c.Timing.Lease },
		"unnamed instance":   func(c *Config) { c.Instances = []InstanceSpec{{}} },
		"duplicate instance": func(c *Config) { c.Instances = append(c.Instances, c.Instances[0]) },
		"negative delay":     func(c *Config) { c.Instances = []InstanceSpec{{Name: "vi", PreemptDelay: -1}} },
	} {
		c := good
		c.Instances = append([]InstanceSpec(nil), good.Instances...)
		mod(&c)
		if _, err := NewCore(c); err == nil {
			t.Errorf("%s: NewCore accepted it", name)
		} else if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "cluster: new core:") {
			t.Errorf("%s: error %q does not name the operation", name, err)
		}
	}
}

// TestSetInstances: a live change may add, remove and redefine instances
// and change their ownership parameters; a bad set is refused whole and
// keeps the old one.
func TestSetInstances(t *testing.T) {
	vi := InstanceSpec{Name: "vi", Priority: map[string]int{"a": 100}}
	c, err := NewCore(Config{Node: "a", Timing: DefaultTiming(), Instances: []InstanceSpec{vi}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1, 0)
	for name, specs := range map[string][]InstanceSpec{
		"negative delay": {{Name: "vi", Priority: vi.Priority, PreemptDelay: -1}},
		"listed twice":   {vi, vi},
		"no name":        {vi, {Priority: vi.Priority}},
	} {
		if err := c.SetInstances(now, specs); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "cluster: set instances:") {
			t.Errorf("%s: SetInstances = %v, want an ErrConfig naming the operation", name, err)
		}
	}
	if got := c.leader.specs; len(got) != 1 || got[0].Name != "vi" || got[0].Priority["a"] != 100 {
		t.Errorf("refused changes altered the specs: %+v", got)
	}
	if err := c.SetInstances(now, []InstanceSpec{{Name: "vi", Priority: map[string]int{"a": 50, "b": 60}, Nopreempt: true}}); err != nil {
		t.Fatalf("a priority change: %v", err)
	}
	if got := c.leader.nodes; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("nodes after adding a priority for b = %v", got)
	}
	if err := c.SetInstances(now, []InstanceSpec{{Name: "vk", Priority: vi.Priority, Def: "x"}, {Name: "vj", Priority: vi.Priority}}); err != nil {
		t.Fatalf("vi removed, vj and vk added: %v", err)
	}
	if got := c.holder.names; !slices.Equal(got, []string{"vi", "vj", "vk"}) || c.holder.insts["vi"].known || c.holder.insts["vk"].def != "x" {
		t.Errorf("holder after the change: names %v, vi known %t, vk def %q", got, c.holder.insts["vi"].known, c.holder.insts["vk"].def)
	}
}
