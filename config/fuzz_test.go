package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the whole reader: it must never panic
// or hang, every error must carry a position in the input, and a tree that
// parses must survive Format and re-parse to the same shape.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	corpus, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.conf"))
	for _, p := range append(seeds, corpus...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "{", "}", "a {", "a }", "\"", "a \"b", "a\\", "a \\\n", "@", "@x {", "@^ a",
		"a { b { c { } } }", "a\n{\n", "vrrp_instance { }", "virtual_server fwmark { }",
		"virtual_server_group g { 10.0.0.1-300 80 }", "cluster { node a { address } }",
		"vrrp_instance V { node x { node y { } } }", "persistence_granularity 0.0.0.0",
		"include", "! x\n# y\n", "a#{\n}", "real_server 1.2.3.4 0 { }", "\x00\xff{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if strings.Contains(string(src), "include") {
			// Includes read the file system; the include tests cover them.
			return
		}
		c, _, err := Parse("fuzz.conf", src)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error %T %v, want a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.Pos.File != "fuzz.conf" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %#v", e)
				}
			}
		}
		if c == nil {
			t.Fatal("Parse returned no config")
		}
		tree, err := ParseTree("fuzz.conf", src)
		if err != nil {
			return
		}
		again, err := ParseTree("fuzz.conf", []byte(Format(tree)))
		if err != nil {
			t.Fatalf("Format output does not parse: %v\n%q", err, Format(tree))
		}
		if a, b := render(tree, false), render(again, false); a != b {
			t.Fatalf("Format round trip:\n%s\n%s", a, b)
		}
	})
}
