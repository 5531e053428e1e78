package health

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"Ab12f 3 456 546443123", "00", "x", "xX 1", "", "  ff  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseHex(s)
		if err != nil {
			return
		}
		// Every byte comes from one or two hex digits: never more bytes
		// than digits, never none.
		digits := 0
		for _, r := range s {
			if strings.ContainsRune("0123456789abcdefABCDEF", r) {
				digits++
			}
		}
		if len(v) == 0 || len(v) > digits {
			t.Fatalf("ParseHex(%q) = %x from %d digits", s, v, digits)
		}
	})
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{`/bin/a b`, `"x y" 'z' \ w`, `"open`, `a\`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitCommand(s)
		if err != nil {
			return
		}
		// Quoting each word back and splitting again gives the same words.
		var b strings.Builder
		for _, w := range words {
			b.WriteString(`'` + strings.ReplaceAll(w, `'`, `'\''`) + `' `)
		}
		again, err := splitCommand(b.String())
		if err != nil || len(again) != len(words) {
			t.Fatalf("re-split of %q: %q, %v; want %q", b.String(), again, err, words)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("re-split word %d: %q, want %q", i, again[i], words[i])
			}
		}
	})
}

func TestNewServer(t *testing.T) {
	rs := netip.MustParseAddrPort("10.0.0.1:80")
	spec, cs, err := NewServer(ServerSpec{ID: "a", Weight: 1}, []CheckSpec{{Kind: KindTCP, Target: rs}, {Kind: KindDNS, Target: rs}})
	if err != nil || len(cs) != 2 || len(spec.Checks) != 2 {
		t.Fatalf("NewServer: %v %d %d", err, len(cs), len(spec.Checks))
	}
	if spec.Checks[1].Retry != 3 || spec.Checks[1].DelayBeforeRetry != DefaultDelayLoop || spec.Checks[0].Timeout != DefaultConnectTimeout {
		t.Errorf("defaults not resolved: %+v", spec.Checks)
	}
	_, _, err = NewServer(ServerSpec{ID: "b"}, []CheckSpec{{Kind: KindTCP, Target: rs}, {Kind: KindHTTP, Target: rs, URLs: []URLSpec{{Regex: "("}}}})
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "regex" || !strings.Contains(err.Error(), "checker 2") {
		t.Errorf("NewServer with a bad regex: %v", err)
	}
}
