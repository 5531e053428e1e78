package vrrp

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewriteScripts = flag.Bool("rewrite-scripts", false, "rewrite the outputs of testdata/listener/*.txt")

// TestListenerScripts replays the scenarios in testdata/listener/*.txt.
// Each block is a command, a "----" line and the output the command must
// produce; blocks are separated by blank lines, and # lines are comments.
// The listener is driven synchronously (handle), so every output is
// deterministic. -rewrite-scripts regenerates the outputs; review the diff.
//
// Commands:
//
//	watch vrid=N [version=3] [holder=IP] [addrs=IP,IP] [pass=S] [interval=D]
//	advert from=IP vrid=N [prio=100] [version=3] [to=GROUP|IP] [ttl=255]
//	       [addrs=IP,IP] [pass=S] [interval=D] [spoil=checksum|truncate|type]
//	stats
func TestListenerScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "listener", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type scriptEnv struct {
	watches map[uint8]Watch
	l       *Listener
	out     []string
}

func runScript(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := &scriptEnv{watches: map[uint8]Watch{}}
	env.l, err = NewListener(nopConn{}, ListenerConfig{
		Lookup: func(vrid uint8) (Watch, bool) { w, ok := env.watches[vrid]; return w, ok },
		OnForeign: func(f Foreign) {
			expected := "none"
			if f.Expected.IsValid() {
				expected = f.Expected.String()
			}
			line := fmt.Sprintf("foreign vrid=%d from=%v prio=%d expected=%s", f.Advert.VRID, f.Info.Src, f.Advert.Priority, expected)
			if f.Err != nil {
				line += " mismatch=" + Reason(f.Err)
			}
			env.out = append(env.out, line)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var rewritten strings.Builder
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			if !strings.HasSuffix(rewritten.String(), "\n\n") {
				rewritten.WriteString("\n")
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			rewritten.WriteString(line + "\n")
			continue
		}
		cmdLine := i + 1
		// The expected output runs from "----" to the next blank line.
		var want []string
		j := i + 1
		if j < len(lines) && lines[j] == "----" {
			for j++; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
				want = append(want, lines[j])
			}
		}
		env.out = nil
		if err := env.run(line); err != nil {
			t.Fatalf("%s:%d: %v", path, cmdLine, err)
		}
		if len(env.out) == 0 {
			env.out = []string{"ok"}
		}
		if !*rewriteScripts && !slices.Equal(env.out, want) {
			t.Errorf("%s:%d: %s\n got:\n  %s\nwant:\n  %s", path, cmdLine, line,
				strings.Join(env.out, "\n  "), strings.Join(want, "\n  "))
		}
		rewritten.WriteString(line + "\n----\n" + strings.Join(env.out, "\n") + "\n\n")
		i = j - 1
	}
	if *rewriteScripts {
		if err := os.WriteFile(path, []byte(strings.TrimRight(rewritten.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (env *scriptEnv) run(line string) error {
	f := strings.Fields(line)
	args := map[string]string{}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("argument %q is not key=value", kv)
		}
		args[k] = v
	}
	get := func(k, def string) string {
		if v, ok := args[k]; ok {
			delete(args, k)
			return v
		}
		return def
	}
	num := func(k, def string) (uint8, error) {
		n, err := strconv.ParseUint(get(k, def), 10, 8)
		return uint8(n), err
	}
	addrList := func(k, def string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range strings.Split(get(k, def), ",") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	var err error
	switch f[0] {
	case "watch":
		var w Watch
		vrid, err1 := num("vrid", "")
		w.Local.Version, err = num("version", "3")
		w.Local.Addrs, _ = addrList("addrs", "10.0.0.100")
		if h := get("holder", ""); h != "" {
			w.Holder, err = netip.ParseAddr(h)
		}
		if p := get("pass", ""); p != "" {
			w.Local.AuthType = AuthPass
			w.Local.AuthData, err = PasswordAuthData(p)
		}
		w.Local.Interval, _ = time.ParseDuration(get("interval", "1s"))
		if err = cmpErr(err1, err); err != nil {
			return err
		}
		env.watches[vrid] = w
	case "advert":
		var a Advert
		from, err1 := netip.ParseAddr(get("from", ""))
		a.VRID, err = num("vrid", "")
		a.Priority, _ = num("prio", "100")
		a.Version, _ = num("version", "3")
		a.Addrs, _ = addrList("addrs", "10.0.0.100")
		a.Interval, _ = time.ParseDuration(get("interval", "1s"))
		if p := get("pass", ""); p != "" {
			a.AuthType = AuthPass
			a.AuthData, _ = PasswordAuthData(p)
		}
		to, _ := netip.ParseAddr(get("to", GroupV4.String()))
		ttl, _ := strconv.Atoi(get("ttl", "255"))
		spoil := get("spoil", "")
		if err = cmpErr(err1, err); err != nil {
			return err
		}
		b, err := a.Marshal(from, to, Options{})
		if err != nil {
			return err
		}
		switch spoil {
		case "checksum":
			b[7] ^= 1
		case "truncate":
			b = b[:len(b)-1]
		case "type":
			b[0] = b[0]&0xf0 | 2
		case "":
		default:
			return fmt.Errorf("unknown spoil %q", spoil)
		}
		before := env.l.Stats()
		env.l.handle(b, PacketInfo{Src: from, Dst: to, HopLimit: ttl, IfIndex: 1})
		after := env.l.Stats()
		for _, r := range Reasons() {
			if after.Drops[r] > before.Drops[r] {
				env.out = append(env.out, "drop "+r)
			}
		}
	case "stats":
		st := env.l.Stats()
		line := fmt.Sprintf("received=%d valid=%d foreign=%d", st.Received, st.Valid, st.Foreign)
		for _, r := range Reasons() {
			if st.Drops[r] > 0 {
				line += fmt.Sprintf(" drop.%s=%d", r, st.Drops[r])
			}
		}
		env.out = append(env.out, line)
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown arguments %v", args)
	}
	return nil
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// nopConn satisfies PacketConn for listeners driven through handle.
type nopConn struct{}

func (nopConn) ReadFrom([]byte) (int, PacketInfo, error) { return 0, PacketInfo{}, net.ErrClosed }
func (nopConn) WriteTo([]byte, netip.Addr) error         { return nil }
func (nopConn) SetReadDeadline(time.Time) error          { return nil }
func (nopConn) Close() error                             { return nil }
