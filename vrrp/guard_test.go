package vrrp

import (
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestCodecIsPure keeps the codec free of sockets, syscalls and processes
// (STYLE.md #9, #15): only these standard packages may be imported by the
// files that encode, decode and validate adverts.
func TestCodecIsPure(t *testing.T) {
	allowed := map[string]bool{
		"encoding/binary": true, "errors": true, "fmt": true, "io": true,
		"net": true, "net/netip": true, "time": true,
	}
	for _, f := range []string{"advert.go", "errors.go", "vmac.go", "doc.go"} {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %s: the codec must stay pure", f, path)
			}
		}
	}
}
