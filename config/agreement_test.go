package config_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"vigil/config"
)

// The corpus in testdata/corpus holds realistic keepalived.conf files, each
// starting with a header line that states what vigil must make of it:
//
//	# expect: valid [warning=LINE ...]
//	# expect: invalid [file=REL] [line=LINE] [keyword=KW] free text reason
//
// warning=LINE: vigil reports a warning (e.g. a deprecated alias) on that
// line. For invalid files, vigil's error list must name the file and a line;
// with line= it must hold an error on that line of file= (default: the corpus
// file itself), and with keyword= that error carries that keyword.

// keepalivedDifferences lists every corpus file on which keepalived 2.2.7
// (`keepalived -t`) and vigil deliberately disagree, with the reason. The
// agreement test asserts that exactly these files differ: a file missing
// from the table that differs fails, and so does a listed file that no
// longer differs (remove it from the table then).
var keepalivedDifferences = map[string]struct {
	keepalivedAccepts bool
	reason            string
}{
	"invalid-missing-include.conf": {true,
		"keepalived -t only logs a missing include file (it is an error only with -e or include_check); " +
			"vigil refuses a config that silently loses the services the operator meant to include"},
	"invalid-persistence-granularity.conf": {true,
		"keepalived accepts any dotted quad (its solid-netmask check is compiled out, as ipvsadm does); " +
			"vigil requires a contiguous netmask, since 255.0.255.0 groups clients nobody means to group"},
	"invalid-undefined-vs-group.conf": {true,
		"keepalived 2.2.7 silently drops a virtual_server whose group does not exist, exit status 0; " +
			"vigil reports the dangling reference"},
	"valid-script-no-security.conf": {false,
		"keepalived -t exits 6 (SECURITY VIOLATION) when scripts run without enable_script_security; " +
			"vigil accepts it (how scripts run is the fencing package's policy, not a syntax error)"},
	"invalid-weight-70000.conf": {true,
		"keepalived takes real server weights up to 2147483647; vigil keeps to ipvsadm's 0-65535, " +
			"which catches the typo and fits both datapaths"},
	"valid-track-interface-elsewhere.conf": {false,
		"keepalived -t checks that tracked interfaces exist on the machine running it; one vigil file " +
			"serves every director, so the agent checks interfaces on its own node at start"},
	"valid-sync-group-single.conf": {false,
		"keepalived -t counts its warning about a one-instance sync group as an error; " +
			"the group is pointless but harmless, and vigil accepts it"},
	"valid-deprecated-nb-get-retry.conf": {false,
		"keepalived -t counts a deprecated keyword (CONFIG_DEPRECATED) as a config error, exit status 5; " +
			"vigil accepts the alias with a deprecation warning, as the issue asks"},
}

// corpusInterfaces are the interface names the corpus uses; keepalived -t
// rejects a vrrp_instance on an interface that does not exist, so the test
// creates them (as veth pairs) in a throwaway network namespace.
var corpusInterfaces = []string{"eth0", "eth1", "eth2", "bond0", "ens192"}

type expectation struct {
	valid    bool
	file     string // file= (relative to the corpus dir); default the file itself
	line     int    // line=; 0: any line
	keyword  string // keyword=
	warnings []int  // warning= lines
	reason   string
}

func parseExpect(path string) (expectation, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return expectation{}, err
	}
	first, _, _ := strings.Cut(string(src), "\n")
	rest, ok := strings.CutPrefix(first, "# expect: ")
	if !ok {
		return expectation{}, fmt.Errorf("%s:1: first line must be a '# expect: valid|invalid ...' header", path)
	}
	words := strings.Fields(rest)
	if len(words) == 0 || (words[0] != "valid" && words[0] != "invalid") {
		return expectation{}, fmt.Errorf("%s:1: expect header must start with valid or invalid: %q", path, first)
	}
	e := expectation{valid: words[0] == "valid"}
	var reason []string
	for _, w := range words[1:] {
		k, v, isKV := strings.Cut(w, "=")
		if !isKV || len(reason) > 0 {
			reason = append(reason, w)
			continue
		}
		switch k {
		case "file":
			e.file = v
		case "keyword":
			e.keyword = v
		case "line", "warning":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return expectation{}, fmt.Errorf("%s:1: bad %s=%q", path, k, v)
			}
			if k == "line" {
				e.line = n
			} else {
				e.warnings = append(e.warnings, n)
			}
		default:
			return expectation{}, fmt.Errorf("%s:1: unknown expect key %q", path, k)
		}
	}
	e.reason = strings.Join(reason, " ")
	if e.valid && (e.file != "" || e.line != 0 || e.keyword != "") {
		return expectation{}, fmt.Errorf("%s:1: file=, line= and keyword= only make sense for invalid files", path)
	}
	if !e.valid && e.reason == "" {
		return expectation{}, fmt.Errorf("%s:1: an invalid file needs a short reason", path)
	}
	return e, nil
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 45 {
		t.Fatalf("corpus has %d files, want at least 45", len(files))
	}
	return files
}

// TestCorpusExpectations checks vigil against the expect headers alone; it
// needs no keepalived.
func TestCorpusExpectations(t *testing.T) {
	var valid, invalid int
	for _, path := range corpusFiles(t) {
		exp, err := parseExpect(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if exp.valid {
			valid++
		} else {
			invalid++
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, warnings, err := config.ParseFile(path)
			checkExpectation(t, path, exp, warnings, err)
		})
	}
	if valid < 20 || invalid < 20 {
		t.Errorf("corpus has %d valid and %d invalid files, want at least 20 of each", valid, invalid)
	}
}

func checkExpectation(t *testing.T, path string, exp expectation, warnings []config.Warning, err error) {
	t.Helper()
	if exp.valid {
		if err != nil {
			t.Fatalf("vigil rejects a valid file:\n%v", err)
		}
		for _, line := range exp.warnings {
			found := false
			for _, w := range warnings {
				if sameFile(w.Pos.File, path) && w.Pos.Line == line {
					found = true
				}
			}
			if !found {
				t.Errorf("no warning on line %d; warnings: %v", line, warnings)
			}
		}
		return
	}
	if err == nil {
		t.Fatalf("vigil accepts a file that is invalid (%s)", exp.reason)
	}
	var list config.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is %T, want a non-empty config.ErrorList: %v", err, err)
	}
	want := path
	if exp.file != "" {
		want = filepath.Join(filepath.Dir(path), exp.file)
	}
	for _, e := range list {
		if e.Pos.File == "" || e.Pos.Line < 1 || e.Pos.Col < 1 {
			t.Errorf("error without file:line:col: %v", e)
		}
		if !strings.HasPrefix(e.Error(), e.Pos.File+":") {
			t.Errorf("error text does not start with its file: %q", e.Error())
		}
	}
	var match *config.Error
	for _, e := range list {
		if sameFile(e.Pos.File, want) && (exp.line == 0 || e.Pos.Line == exp.line) &&
			(exp.keyword == "" || e.Keyword == exp.keyword) {
			match = e
			break
		}
	}
	if match == nil {
		t.Errorf("want an error at %s line %d keyword %q (%s); got:\n%v",
			want, exp.line, exp.keyword, exp.reason, err)
	}
}

// sameFile reports whether a position's file name denotes path.
func sameFile(posFile, path string) bool {
	a, err1 := filepath.Abs(posFile)
	b, err2 := filepath.Abs(path)
	return err1 == nil && err2 == nil && a == b
}

// keepalivedVerdict is what keepalived -t said about one file.
type keepalivedVerdict struct {
	status int    // exit status: 0 fine, 4 fatal, 5 config errors, 6 script security
	output string // its messages (keepalived -t writes them to stderr)
}

// runKeepalived runs `keepalived -t -f FILE` over files inside a new network
// namespace holding only lo and the corpusInterfaces, so keepalived's
// interface checks see the same thing on every machine and nothing it does
// reaches the host's network. In -t mode keepalived only parses and
// validates (checked with strace -f over the corpus): it opens one
// NETLINK_ROUTE socket to list interfaces (in the throwaway namespace), no
// IPVS generic-netlink socket, and AF_UNIX sockets only for user-name
// lookups (script_user); it creates no file and starts no process. The pid
// file options point into a temporary directory anyway.
func runKeepalived(t *testing.T, keepalived string, files []string) map[string]keepalivedVerdict {
	t.Helper()
	dir := t.TempDir()
	var script strings.Builder
	script.WriteString("set -e\nip link set lo up\n")
	for _, ifname := range corpusInterfaces {
		fmt.Fprintf(&script, "ip link add %s type veth peer name p%s\nip link set %s up\n", ifname, ifname, ifname)
	}
	script.WriteString("set +e\n")
	for i, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "%s -t -f %s -p %s/k.pid -r %s/v.pid -c %s/c.pid -b %s/b.pid >%s/%d.out 2>&1\necho $? >%s/%d.rc\n",
			shellQuote(keepalived), shellQuote(abs), dir, dir, dir, dir, dir, i, dir, i)
	}
	cmd := exec.Command("unshare", "--net", "sh", "-c", script.String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unshare: %v: %s", err, out)
	}
	res := make(map[string]keepalivedVerdict, len(files))
	for i, f := range files {
		rc, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.rc", i)))
		if err != nil {
			t.Fatalf("keepalived did not run on %s: %v", f, err)
		}
		status, err := strconv.Atoi(strings.TrimSpace(string(rc)))
		if err != nil {
			t.Fatalf("%s: bad exit status %q", f, rc)
		}
		msg, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%d.out", i)))
		res[f] = keepalivedVerdict{status: status, output: string(msg)}
	}
	return res
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// findKeepalived returns keepalived's path or skips the test.
func findKeepalived(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/keepalived"); err == nil {
		return "/usr/sbin/keepalived"
	}
	// The agreement with the real keepalived is part of the proof: a
	// machine without it fails the test rather than skip it (.ci/run
	// installs it).
	t.Fatal("needs keepalived: apt-get install keepalived")
	return ""
}

// TestKeepalivedAgreement runs the real keepalived with its config-test mode
// over every corpus file, and vigil's config.ParseFile, and asserts they
// accept and reject the same files except for the deliberate differences
// listed in keepalivedDifferences.
//
// How keepalived 2.2.7 reports (found by running it, and in its lib/parser.c
// report_config_error and core/main.c config_test_exit): `keepalived -t -f
// FILE` parses and validates, then exits with 0 when nothing was reported,
// 4 when it could not run the config at all (file not found, bad interface,
// fatal), 5 for any other report (unknown keyword, bad number, missing
// brace, and also mere warnings such as "No VIP specified" or a deprecated
// keyword like nb_get_retry), and 6 for script-security violations. Each
// report is one line on stderr, "(FILE: Line N) message" while the parser
// knows the line, and without a position for the checks made after parsing
// (duplicate VRID, missing virtual_router_id, sync group members).
// `--config-test=LOGFILE` writes the same lines to LOGFILE instead; -l and -D
// change nothing in -t mode. A missing include is only logged (exit 0)
// unless -e or include_check is given; keepalived -t here runs without them,
// as operators run it.
func TestKeepalivedAgreement(t *testing.T) {
	keepalived := findKeepalived(t)
	if os.Geteuid() != 0 {
		// An unprivileged user namespace would do for the network, but
		// there keepalived sees /bin/true owned by an unmapped user and
		// disables track scripts as insecure: its verdicts would differ.
		t.Skip("needs root (keepalived -t runs in a network namespace of its own, and judges script ownership as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed to isolate keepalived: %v", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is needed to create the corpus interfaces: %v", err)
	}
	files := corpusFiles(t)
	verdicts := runKeepalived(t, keepalived, files)
	// keepalivedDifferences was established with Debian bookworm's
	// keepalived 2.2.7; other versions may judge some files differently.
	version, _ := exec.Command(keepalived, "--version").CombinedOutput()
	first, _, _ := strings.Cut(string(version), "\n")
	defer func() {
		if t.Failed() {
			t.Logf("keepalived: %s (the deliberate differences were established with v2.2.7)", first)
		}
	}()

	seen := map[string]bool{}
	for _, path := range files {
		base := filepath.Base(path)
		kv := verdicts[path]
		_, _, err := config.ParseFile(path)
		vigilAccepts := err == nil
		keepalivedAccepts := kv.status == 0
		if kv.status != 0 && kv.status != 5 && kv.status != 6 && kv.status != 4 {
			t.Errorf("%s: keepalived -t exit status %d is none of 0, 4, 5, 6:\n%s", base, kv.status, kv.output)
		}
		if kv.status != 0 && strings.TrimSpace(kv.output) == "" {
			t.Errorf("%s: keepalived -t failed (status %d) without saying why", base, kv.status)
		}
		diff, listed := keepalivedDifferences[base]
		seen[base] = listed
		switch {
		case listed && keepalivedAccepts == vigilAccepts:
			t.Errorf("%s is listed as a deliberate difference (%s) but keepalived and vigil now agree (both accept: %v); remove it from keepalivedDifferences",
				base, diff.reason, vigilAccepts)
		case listed && diff.keepalivedAccepts != keepalivedAccepts:
			t.Errorf("%s: the table says keepalived accepts=%v, but it exited %d:\n%s", base, diff.keepalivedAccepts, kv.status, kv.output)
		case !listed && keepalivedAccepts != vigilAccepts:
			t.Errorf("%s: keepalived -t exit %d (accepts: %v), vigil accepts: %v\nkeepalived said:\n%s\nvigil said: %v",
				base, kv.status, keepalivedAccepts, vigilAccepts, indent(kv.output), err)
		}
	}
	for name := range keepalivedDifferences {
		if _, ok := seen[name]; !ok {
			t.Errorf("keepalivedDifferences lists %s, which is not in the corpus", name)
		}
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
