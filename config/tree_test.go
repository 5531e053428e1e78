package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render prints a tree compactly: statements separated by "; ", blocks in
// braces, each statement prefixed by line:col.
func render(nodes []*Node, withPos bool) string {
	var parts []string
	for _, n := range nodes {
		s := n.String()
		if withPos {
			s = n.Pos.String() + " " + s
		}
		if n.Block {
			s += " {" + render(n.Children, withPos) + "}"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestParseTreeSyntax(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"statement", "router_id x\n", "1:1 router_id x"},
		{"block", "a {\n  b 1\n}\n", "1:1 a {2:3 b 1}"},
		{"one-line block", "node d1 { address 10.0.0.1 10.0.1.1 }", "1:1 node d1 {1:11 address 10.0.0.1 10.0.1.1}"},
		{"brace on next line", "a\n{\n b\n}", "1:1 a {3:2 b}"},
		{"brace on next line after comment", "a # c\n! more\n{\n b\n}", "1:1 a {4:2 b}"},
		{"glued braces", "a{b}", "1:1 a {1:3 b}"},
		{"glued close", "a {\n b 1}\n c", "1:1 a {2:2 b 1}; 3:2 c"},
		{"hash comment", "a 1 # x y\nb", "1:1 a 1; 2:1 b"},
		{"bang comment", "! whole line\na 1 ! x", "2:1 a 1"},
		{"comment inside word", "foo#bar baz\nx!y", "1:1 foo; 2:1 x"},
		{"quoted", `notify "/bin/x --flag" root`, `1:1 notify "/bin/x --flag" root`},
		{"quoted comment chars", `a "x # ! { }"`, `1:1 a "x # ! { }"`},
		{"quoted escapes", `a "say \"hi\" \\ ok"`, `1:1 a "say \"hi\" \\ ok"`},
		{"empty quoted", `a ""`, `1:1 a ""`},
		{"continuation", "a 1 \\\n  2\nb", "1:1 a 1 2; 3:1 b"},
		{"crlf", "a {\r\n b 1\r\n}\r\n", "1:1 a {2:2 b 1}"},
		{"tabs", "\ta\t1\t{\tb\t}", "1:2 a 1 {1:8 b}"},
		{"nested", "a { b { c { d } } }", "1:1 a {1:5 b {1:9 c {1:13 d}}}"},
		{"empty block", "a { }\nb {\n}", "1:1 a {}; 2:1 b {}"},
		{"list block lines", "virtual_ipaddress {\n 10.0.0.1/24 dev eth0\n 10.0.0.2\n}", "1:1 virtual_ipaddress {2:2 10.0.0.1/24 dev eth0; 3:2 10.0.0.2}"},
		{"conditional skipped", "@d1 priority 100\n@^d1 priority 50", "2:6 priority 50"},
		{"conditional block skipped", "@d1 a {\n b\n}\nc", "4:1 c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := ParseTree("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseTree: %v", err)
			}
			// Positions are rendered without the file name.
			for _, n := range walk(nodes) {
				n.Pos.File = ""
			}
			if got := render(nodes, true); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func walk(nodes []*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		out = append(out, n)
		out = append(out, walk(n.Children)...)
	}
	return out
}

func TestParseTreeConfigID(t *testing.T) {
	src := "@d1 priority 150\n@d2 priority 100\n@^d1 state BACKUP\n"
	nodes, err := ParseTreeWith("t.conf", []byte(src), Options{ConfigID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := render(nodes, false); got != "priority 150" {
		t.Errorf("config id d1: got %q", got)
	}
	nodes, _ = ParseTreeWith("t.conf", []byte(src), Options{ConfigID: "d2"})
	if got := render(nodes, false); got != "priority 100; state BACKUP" {
		t.Errorf("config id d2: got %q", got)
	}
}

func TestParseTreeErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // exact error strings
	}{
		{"extra close", "a {\n}\n}\n", []string{"t.conf:3:1: unexpected '}' with no open block"}},
		{"missing close", "a {\n b {\n  c\n}\n", []string{"t.conf:1:1: a: block opened here is not closed (missing '}')"}},
		{"missing close nested", "x\na {\n b {\n", []string{
			"t.conf:3:2: b: block opened here is not closed (missing '}')",
			"t.conf:2:1: a: block opened here is not closed (missing '}')"}},
		{"unterminated quote", "a \"bc\nd", []string{"t.conf:1:3: unterminated quoted string"}},
		{"stray open", "{\n a\n}\nb", []string{"t.conf:1:1: unexpected '{' without a keyword before it"}},
		{"include without file", "include\n", []string{"t.conf:1:1: include: missing file name or pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTree("t.conf", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v (%T), want ErrorList", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var one *Error
			if !errors.As(err, &one) || one != list[0] {
				t.Errorf("errors.As(*Error) does not find the first error")
			}
		})
	}
}

func TestParseTreeDepthLimit(t *testing.T) {
	src := strings.Repeat("a {\n", 100) + strings.Repeat("}\n", 100)
	_, err := ParseTree("t.conf", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "nested more than 64 deep") {
		t.Fatalf("err = %v, want a nesting error", err)
	}
}

// writeFiles creates files (path -> content) under a temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf":           "global_defs {\n    router_id r\n}\ninclude conf.d/*.conf\nlast 1\n",
		"conf.d/b.conf":       "b_stmt 2\n",
		"conf.d/a.conf":       "a_stmt 1\ninclude ../sub/inner.conf\n",
		"conf.d/ignored.txt":  "nope\n",
		"sub/inner.conf":      "inner { x }\n",
		"conf.d/c.conf.extra": "nope\n",
	})
	main := filepath.Join(dir, "main.conf")
	src, _ := os.ReadFile(main)
	nodes, err := ParseTree(main, src)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(nodes, false), "global_defs {router_id r}; a_stmt 1; inner {x}; b_stmt 2; last 1"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Positions name the file each statement came from.
	byKw := map[string]Pos{}
	for _, n := range walk(nodes) {
		byKw[n.Keyword] = n.Pos
	}
	for kw, want := range map[string]Pos{
		"a_stmt": {filepath.Join(dir, "conf.d/a.conf"), 1, 1},
		"inner":  {filepath.Join(dir, "conf.d/../sub/inner.conf"), 1, 1},
		"x":      {filepath.Join(dir, "conf.d/../sub/inner.conf"), 1, 9},
		"b_stmt": {filepath.Join(dir, "conf.d/b.conf"), 1, 1},
		"last":   {main, 5, 1},
	} {
		if filepath.Clean(byKw[kw].File) != filepath.Clean(want.File) || byKw[kw].Line != want.Line || byKw[kw].Col != want.Col {
			t.Errorf("%s at %v, want %v", kw, byKw[kw], want)
		}
	}
}

func TestIncludeInsideBlockAndBeforeClose(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf": "vrrp_instance V {\n    include vips.conf }\nafter\n",
		"vips.conf": "virtual_ipaddress {\n 10.0.0.1\n}\n",
	})
	main := filepath.Join(dir, "main.conf")
	src, _ := os.ReadFile(main)
	nodes, err := ParseTree(main, src)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(nodes, false), "vrrp_instance V {virtual_ipaddress {10.0.0.1}}; after"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cycle.conf":   "include loop/b.conf\n",
		"loop/b.conf":  "include ../cycle.conf\n",
		"self.conf":    "x\ninclude self.conf\n",
		"missing.conf": "include nothere.conf\ninclude nomatch-*.conf\n",
	})
	tests := []struct {
		file string
		want string
	}{
		{"cycle.conf", "loop/b.conf:1:1: include: include cycle: "},
		{"self.conf", "self.conf:2:1: include: include cycle: "},
		{"missing.conf", "missing.conf:1:1: include: open "},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := filepath.Join(dir, tt.file)
			src, _ := os.ReadFile(p)
			_, err := ParseTree(p, src)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("err = %v, want exactly one error", err)
			}
			if !strings.Contains(list[0].Error(), tt.want) {
				t.Errorf("error %q does not contain %q", list[0].Error(), tt.want)
			}
		})
	}
}

func TestIncludeDepthLimit(t *testing.T) {
	// A chain f0 -> f1 -> ... -> f39 of distinct files.
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("f%03d.conf", i)
	}
	files := map[string]string{}
	for i, n := range names {
		if i+1 < len(names) {
			files[n] = "include " + names[i+1] + "\n"
		} else {
			files[n] = "leaf\n"
		}
	}
	dir := writeFiles(t, files)
	p := filepath.Join(dir, names[0])
	src, _ := os.ReadFile(p)
	_, err := ParseTree(p, src)
	if err == nil || !strings.Contains(err.Error(), "includes nested more than 32 deep") {
		t.Fatalf("err = %v, want the include depth error", err)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	src := "global_defs {\n router_id \"a b\"\n}\nvrrp_instance V { state MASTER\n virtual_ipaddress { 10.0.0.1/24 dev eth0 }\n}\n"
	nodes, err := ParseTree("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := Format(nodes)
	want := "global_defs {\n    router_id \"a b\"\n}\nvrrp_instance V {\n    state MASTER\n    virtual_ipaddress {\n        10.0.0.1/24 dev eth0\n    }\n}\n"
	if out != want {
		t.Errorf("Format:\n%s\nwant\n%s", out, want)
	}
	again, err := ParseTree("t.conf", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if render(again, false) != render(nodes, false) {
		t.Errorf("round trip changed the tree:\n%s\n%s", render(again, false), render(nodes, false))
	}
}

func TestConfigFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf":    "include d/*.conf\n",
		"d/1.conf":     "global_defs {\n    router_id a\n}\n",
		"d/2.conf":     "! empty\n",
		"d/skip.conf.": "",
	})
	c, _, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "main.conf"), filepath.Join(dir, "d/1.conf"), filepath.Join(dir, "d/2.conf")}
	if strings.Join(c.Files, " ") != strings.Join(want, " ") {
		t.Errorf("Files = %v, want %v", c.Files, want)
	}
	if _, _, err := ParseFile(filepath.Join(dir, "nope.conf")); err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "nope.conf")+": open ") {
		t.Errorf("missing file error %q", err)
	}
}

func TestParameterSubstitution(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.conf": "$IF=eth1\n$VRID = 42\ninclude inc.conf\nvrrp_instance V_${VRID} {\n    interface $IF\n    virtual_router_id $VRID\n    notify \"/bin/n $UNDEFINED\"\n    virtual_ipaddress { $VIP }\n}\n",
		"inc.conf":  "$VIP=10.0.0.$VRID/24\n",
	})
	p := filepath.Join(dir, "main.conf")
	c, _, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := c.Instances[0]
	if i.Name != "V_42" || i.Interface != "eth1" || i.VirtualRouterID != 42 || i.Any.Command != "/bin/n $UNDEFINED" {
		t.Errorf("substitution: %s %s %d %q", i.Name, i.Interface, i.VirtualRouterID, i.Any.Command)
	}
	if len(i.VirtualIPAddresses) != 1 || i.VirtualIPAddresses[0].Prefix.String() != "10.0.0.42/24" {
		t.Errorf("VIP from a variable defined in an include: %v", i.VirtualIPAddresses)
	}
	// Line numbers stay exact.
	if i.Node.Pos.Line != 4 || c.Tree[0].Keyword != "vrrp_instance" {
		t.Errorf("instance at %v, tree starts with %s", i.Node.Pos, c.Tree[0].Keyword)
	}
}
