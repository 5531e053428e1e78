package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// This file implements `vigil config import`: it merges the per-node
// keepalived.conf files of an existing pair or trio into one vigil
// configuration. It works on the syntax trees (ParseTree), so that every
// difference it reports names exact positions in both files.
//
// What may differ between the nodes, and becomes a `node NAME { ... }`
// override inside the vrrp_instance (see impInstanceNodeKeywords): priority,
// state, interface, track_interface, unicast_src_ip, unicast_peer and
// mcast_src_ip. In global_defs router_id may differ (vigil names nodes in
// the cluster block instead); notification_email_from and smtp_helo_name
// may differ with a warning (the first file's value is kept). Everything
// else that differs (VIP lists, advert_int, version, authentication, sync
// groups, scripts, virtual servers, real servers, checkers) is drift: the
// very thing that gives keepalived users two masters or two different load
// balancers. Each is a DriftError and no configuration is produced.
//
// Each file is read with its node name as keepalived's config id, so one
// keepalived.conf shared through `@lb1 priority 200` conditional lines can
// be given once per node (with the names its @ID lines use).

// ImportOptions controls Import.
type ImportOptions struct {
	// Names are the node names, one per input file, in the same order.
	// Empty: the file names without directory and extension (d1.conf ->
	// d1), or node1, node2, ... when those are not distinct names.
	Names []string
	// ClusterName is the name in the cluster block. Empty: derived from
	// the common prefix of the router_ids, else "keepalived".
	ClusterName string
	// Addresses gives the addresses of nodes by name (one per heartbeat
	// link, in link order), instead of taking them from unicast_src_ip,
	// mcast_src_ip or the unicast_peer lists.
	Addresses map[string][]string
}

// Imported is the result of a successful Import.
type Imported struct {
	// Config is the vigil configuration, in keepalived.conf syntax with a
	// cluster block; it parses with Parse.
	Config []byte
	// Nodes are the node names, one per input file.
	Nodes []string
	// Warnings are findings that did not stop the import (entries in a
	// different order, a node address that had to be inferred or could
	// not be found, per-node global_defs values that were dropped).
	Warnings []Warning
}

// DriftError is one difference between two input files that is not
// node-specific. A and B are its positions in the two files; a position
// with Line 0 means "the file" (the thing is missing there). Error()
// renders "a.conf:14:5 and b.conf:14:5: vrrp_instance VI_1: msg".
type DriftError struct {
	A, B    Pos
	Context string // the enclosing blocks, "vrrp_instance VI_1"
	Msg     string
}

func (e *DriftError) Error() string {
	var b strings.Builder
	b.WriteString(impPosOrFile(e.A))
	b.WriteString(" and ")
	b.WriteString(impPosOrFile(e.B))
	b.WriteString(": ")
	if e.Context != "" {
		b.WriteString(e.Context)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func impPosOrFile(p Pos) string {
	if p.Line == 0 {
		return p.File
	}
	return p.String()
}

// DriftList is every DriftError of one import, in the order found (the
// order of the first file). It unwraps to its elements.
type DriftList []*DriftError

func (l DriftList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the elements, for errors.As.
func (l DriftList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// impInstanceNodeKeywords are the vrrp_instance keywords whose values are the
// node's own: they become `node NAME { ... }` overrides when they differ.
var impInstanceNodeKeywords = map[string]bool{
	"priority": true, "state": true, "interface": true, "track_interface": true,
	"unicast_src_ip": true, "unicast_peer": true, "mcast_src_ip": true,
}

// impPerNodeOnly are node keywords that never make sense as a shared default
// when they differ: every node gets its own override, and none is shared.
var impPerNodeOnly = map[string]bool{"unicast_src_ip": true, "unicast_peer": true, "mcast_src_ip": true}

// impGlobalNodeKeywords are global_defs keywords that may differ per node; a
// difference is a warning and the first file's value is kept, except for
// router_id, which is dropped when it differs.
var impGlobalNodeKeywords = map[string]bool{"router_id": true, "notification_email_from": true, "smtp_helo_name": true}

// impListBlocks are blocks whose lines are entries of one list, compared as
// a whole (entries only in one file, or a different order).
var impListBlocks = map[string]bool{
	"virtual_ipaddress": true, "virtual_ipaddress_excluded": true, "virtual_routes": true,
	"virtual_rules": true, "static_ipaddress": true, "static_routes": true, "static_rules": true,
	"unicast_peer": true, "track_script": true, "track_interface": true, "track_file": true,
	"track_process": true, "track_bfd": true, "group": true, "notification_email": true,
	"virtual_server_group": true,
}

// importAliases maps deprecated keywords to the names they alias, so that
// lvs_sched in one file and lb_algo in the other do not count as drift.
var importAliases = map[string]string{
	"lvs_sched": "lb_algo", "lvs_method": "lb_kind", "nb_get_retry": "retry",
	"vrrp_track_file": "track_file",
}

// ImportFiles reads and imports the given keepalived.conf files (with their
// includes), one per node. See Import.
func ImportFiles(paths []string, opt ImportOptions) (*Imported, error) {
	srcs := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("config import: %w", err)
		}
		srcs[i] = b
	}
	return Import(paths, srcs, opt)
}

// Import merges the keepalived.conf sources of the nodes of one pair or
// trio (names are the file names used in positions and as the base of
// relative includes) into one vigil configuration. The error is an
// ErrorList when an input does not parse, a DriftList when the inputs
// differ in anything that is not node-specific, or a plain error for bad
// options.
func Import(names []string, srcs [][]byte, opt ImportOptions) (*Imported, error) {
	if len(names) < 2 {
		return nil, fmt.Errorf("config import: need the files of at least two nodes, got %d", len(names))
	}
	if len(srcs) != len(names) {
		return nil, fmt.Errorf("config import: %d names for %d sources", len(names), len(srcs))
	}
	nodes, err := importNodeNames(names, opt.Names)
	if err != nil {
		return nil, err
	}
	for name, as := range opt.Addresses {
		if !slices.Contains(nodes, name) {
			return nil, fmt.Errorf("config import: address given for %q, which is not a node (nodes: %s)", name, strings.Join(nodes, ", "))
		}
		for _, a := range as {
			if _, err := netip.ParseAddr(a); err != nil {
				return nil, fmt.Errorf("config import: node %s: bad address %q", name, a)
			}
		}
	}
	im := &importer{files: names, nodes: nodes}
	var perr ErrorList
	for i, n := range names {
		// keepalived's @ID lines select per-node lines of one shared file:
		// each file is read as its node sees it.
		t, err := ParseTreeWith(n, srcs[i], Options{ConfigID: nodes[i]})
		var l ErrorList
		switch {
		case errors.As(err, &l):
			perr = append(perr, l...)
		case err != nil:
			return nil, fmt.Errorf("config import: %s: %w", n, err)
		case !impConditional(srcs[i]):
			// Validate it too, so that a bad value is reported where
			// it stands in the node's file rather than in the output.
			// (Parse has no config id: files with @ID lines are
			// validated as the merged output only.)
			if _, _, err := Parse(n, srcs[i]); errors.As(err, &l) {
				perr = append(perr, l...)
			} else if err != nil {
				return nil, fmt.Errorf("config import: %s: %w", n, err)
			}
		}
		im.trees = append(im.trees, t)
	}
	for _, t := range im.trees {
		for _, n := range t {
			if n.Keyword == "cluster" {
				perr = append(perr, &Error{Pos: n.Pos, Keyword: "cluster",
					Msg: "this is already a vigil configuration; import takes the keepalived.conf of each node"})
			}
		}
	}
	if len(perr) > 0 {
		return nil, perr
	}
	for j := 1; j < len(names); j++ {
		im.compareLists("", im.trees[0], im.trees[j], Pos{File: names[0]}, Pos{File: names[j]}, j, true)
	}
	if len(im.errs) == 0 {
		im.addresses(opt.Addresses)
	}
	if len(im.errs) > 0 {
		return nil, im.errs
	}
	out := im.render(opt.ClusterName)
	return &Imported{Config: out, Nodes: nodes, Warnings: im.warns}, nil
}

// impConditional reports whether src has keepalived @ID conditional lines.
func impConditional(src []byte) bool {
	for _, line := range bytes.Split(src, []byte("\n")) {
		if l := bytes.TrimLeft(line, " \t"); len(l) > 0 && l[0] == '@' {
			return true
		}
	}
	return false
}

func importNodeNames(files, given []string) ([]string, error) {
	if len(given) > 0 {
		if len(given) != len(files) {
			return nil, fmt.Errorf("config import: %d node names for %d files", len(given), len(files))
		}
		seen := map[string]bool{}
		for _, n := range given {
			if !impValidNodeName(n) {
				return nil, fmt.Errorf("config import: bad node name %q: use letters, digits, '-', '_' and '.'", n)
			}
			if seen[n] {
				return nil, fmt.Errorf("config import: node name %q given twice", n)
			}
			seen[n] = true
		}
		return given, nil
	}
	names := make([]string, len(files))
	seen := map[string]bool{}
	ok := true
	for i, f := range files {
		b := filepath.Base(f)
		b = strings.TrimSuffix(b, filepath.Ext(b))
		if !impValidNodeName(b) || seen[b] {
			ok = false
		}
		seen[b] = true
		names[i] = b
	}
	if !ok {
		for i := range names {
			names[i] = fmt.Sprintf("node%d", i+1)
		}
	}
	return names, nil
}

func impValidNodeName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type importer struct {
	files []string
	nodes []string
	trees [][]*Node
	errs  DriftList
	warns []Warning
	// ifA and ifB are the interfaces of the vrrp_instance being compared:
	// "dev IFACE" naming the instance's own interface is node-specific.
	ifA, ifB string
	addrs    [][]impAddr // per node
	notes    []string    // per node: a comment for the cluster block
}
