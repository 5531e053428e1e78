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

// impIface returns the interface of a vrrp_instance, or "".
func impIface(inst *Node) string {
	if n := inst.Find("interface"); n != nil && len(n.Args) > 0 {
		return n.Args[0]
	}
	return ""
}

// impDevLists are the list blocks whose entries may name the instance's
// interface with "dev IFACE".
var impDevLists = map[string]bool{"virtual_ipaddress": true, "virtual_ipaddress_excluded": true, "virtual_routes": true}

func (im *importer) drift(a, b Pos, ctx, format string, args ...any) {
	im.errs = append(im.errs, &DriftError{A: a, B: b, Context: ctx, Msg: fmt.Sprintf(format, args...)})
}

// impKeyed indexes statements for matching across files: a block by its
// keyword and arguments (real_server 10.0.0.1 80), a plain statement by its
// keyword alone (its arguments are its value), a repeated key with #N.
type impKeyed struct {
	keys []string
	m    map[string]*Node
}

func impKeyOf(n *Node) string {
	kw := n.Keyword
	if a, ok := importAliases[kw]; ok {
		kw = a
	}
	if !n.Block || len(n.Args) == 0 {
		return kw
	}
	return kw + " " + strings.Join(n.Args, " ")
}

func impIndex(nodes []*Node) impKeyed {
	k := impKeyed{m: map[string]*Node{}}
	count := map[string]int{}
	for _, n := range nodes {
		key := impKeyOf(n)
		if c := count[key]; c > 0 {
			count[key]++
			key = fmt.Sprintf("%s#%d", key, c+1)
		} else {
			count[key] = 1
		}
		k.keys = append(k.keys, key)
		k.m[key] = n
	}
	return k
}

// compareLists compares the statements of two blocks (or two files, when
// top is set), pa and pb being the positions of the blocks.
func (im *importer) compareLists(ctx string, a, b []*Node, pa, pb Pos, j int, top bool) {
	ka, kb := impIndex(a), impIndex(b)
	inInstance := strings.HasPrefix(ctx, "vrrp_instance ") && !strings.Contains(ctx, ": ")
	inGlobal := ctx == "global_defs"
	for _, key := range ka.keys {
		na := ka.m[key]
		if inInstance && impInstanceNodeKeywords[na.Keyword] {
			continue
		}
		nb, ok := kb.m[key]
		if !ok {
			if inGlobal && impGlobalNodeKeywords[na.Keyword] {
				continue
			}
			im.drift(na.Pos, pb, ctx, "%s only in %s", impDescribe(na, top), im.files[0])
			continue
		}
		if top && na.Keyword == "vrrp_instance" {
			im.ifA, im.ifB = impIface(na), impIface(nb)
		}
		im.compareNode(ctx, na, nb, j, inGlobal)
	}
	for _, key := range kb.keys {
		nb := kb.m[key]
		if _, ok := ka.m[key]; ok || (inInstance && impInstanceNodeKeywords[nb.Keyword]) || (inGlobal && impGlobalNodeKeywords[nb.Keyword]) {
			continue
		}
		im.drift(pa, nb.Pos, ctx, "%s only in %s", impDescribe(nb, top), im.files[j])
	}
}

// impDescribe names a statement in a message: a block by its header, a plain
// statement by its keyword.
func impDescribe(n *Node, top bool) string {
	if n.Block || top {
		return n.String()
	}
	return n.Keyword
}

func impJoin(ctx, s string) string {
	if ctx == "" {
		return s
	}
	return ctx + ": " + s
}

func (im *importer) compareNode(ctx string, a, b *Node, j int, inGlobal bool) {
	if a.Block != b.Block || !slices.Equal(a.Args, b.Args) {
		if inGlobal && impGlobalNodeKeywords[a.Keyword] {
			if a.Keyword != "router_id" {
				im.warns = append(im.warns, Warning{Pos: b.Pos, Keyword: b.Keyword,
					Msg: fmt.Sprintf("differs from %s (%s vs %s); the shared configuration keeps %s",
						a.Pos, impArgsText(a), impArgsText(b), impArgsText(a))})
			}
			return
		}
		im.drift(a.Pos, b.Pos, ctx, "%s differs: %s vs %s", a.Keyword, impValueText(a), impValueText(b))
		return
	}
	if !a.Block {
		return
	}
	if impListBlocks[a.Keyword] {
		im.compareEntries(ctx, a, b, j)
		return
	}
	im.compareLists(impJoin(ctx, a.String()), a.Children, b.Children, a.Pos, b.Pos, j, false)
}

func impArgsText(n *Node) string {
	if len(n.Args) == 0 {
		return "(no value)"
	}
	return strings.Join(impQuoteAll(n.Args), " ")
}

func impValueText(n *Node) string {
	if n.Block {
		return "a block"
	}
	return impArgsText(n)
}

func impQuoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, w := range s {
		out[i] = quoteWord(w)
	}
	return out
}

// compareEntries compares two list blocks entry by entry.
func (im *importer) compareEntries(ctx string, a, b *Node, j int) {
	ia, ib := "", ""
	if impDevLists[a.Keyword] {
		ia, ib = im.ifA, im.ifB
	}
	ea, eb := impEntries(a, ia), impEntries(b, ib)
	onlyA, onlyB := impMinus(ea, eb), impMinus(eb, ea)
	if len(onlyA) == 0 && len(onlyB) == 0 {
		if !slices.Equal(impTexts(ea), impTexts(eb)) {
			im.warns = append(im.warns, Warning{Pos: b.Pos, Keyword: b.Keyword,
				Msg: fmt.Sprintf("same entries as %s in a different order (%s vs %s)",
					a.Pos, strings.Join(impTexts(ea), ", "), strings.Join(impTexts(eb), ", "))})
		}
		return
	}
	pa, pb := a.Pos, b.Pos
	if len(onlyA) > 0 {
		pa = onlyA[0].pos
	}
	if len(onlyB) > 0 {
		pb = onlyB[0].pos
	}
	im.drift(pa, pb, ctx, "%s differs: %s vs %s", a.Keyword, impListText(onlyA), impListText(onlyB))
}

type impEntry struct {
	text string
	pos  Pos
}

// impEntries renders the entries of a list block for comparison, leaving
// out "dev IFACE" when IFACE (if not "") is the instance's own interface,
// which is where keepalived puts the address anyway.
func impEntries(n *Node, iface string) []impEntry {
	out := make([]impEntry, len(n.Children))
	for i, c := range n.Children {
		out[i] = impEntry{strings.TrimSpace(impRenderText(impStripDev(c, iface))), c.Pos}
	}
	return out
}

// impStripDev returns n without the words "dev IFACE".
func impStripDev(n *Node, iface string) *Node {
	if iface == "" {
		return n
	}
	for k := 0; k+1 < len(n.Args); k++ {
		if n.Args[k] == "dev" && n.Args[k+1] == iface {
			c := *n
			c.Args = append(slices.Clone(n.Args[:k]), n.Args[k+2:]...)
			return &c
		}
	}
	return n
}

func impTexts(e []impEntry) []string {
	out := make([]string, len(e))
	for i, x := range e {
		out[i] = x.text
	}
	return out
}

// impMinus returns the entries of a not matched in b (as multisets).
func impMinus(a, b []impEntry) []impEntry {
	left := map[string]int{}
	for _, x := range b {
		left[x.text]++
	}
	var out []impEntry
	for _, x := range a {
		if left[x.text] > 0 {
			left[x.text]--
			continue
		}
		out = append(out, x)
	}
	return out
}

func impListText(e []impEntry) string {
	if len(e) == 0 {
		return "(nothing)"
	}
	return strings.Join(impTexts(e), ", ")
}

// impRenderNode writes n (and its block) in keepalived.conf syntax, indented
// by depth levels of four spaces.
func impRenderNode(b *bytes.Buffer, n *Node, depth int) {
	ind := strings.Repeat("    ", depth)
	b.WriteString(ind)
	b.WriteString(n.String())
	if !n.Block {
		b.WriteByte('\n')
		return
	}
	b.WriteString(" {\n")
	for _, c := range n.Children {
		impRenderNode(b, c, depth+1)
	}
	b.WriteString(ind)
	b.WriteString("}\n")
}

func impRenderText(n *Node) string {
	var b bytes.Buffer
	impRenderNode(&b, n, 0)
	return b.String()
}

// render writes the merged configuration: the cluster block, then the first
// file's statements with node-specific values turned into overrides.
func (im *importer) render(clusterName string) []byte {
	var b bytes.Buffer
	b.WriteString("# vigil configuration imported by `vigil config import` from:\n")
	for i, f := range im.files {
		fmt.Fprintf(&b, "#   %s (node %s)\n", f, im.nodes[i])
	}
	b.WriteString("# Comments of the original files are not carried over. Copy this one file\n")
	b.WriteString("# to every director: per-node values live in the `node NAME { }` blocks.\n\n")

	if clusterName == "" {
		clusterName = im.clusterName()
	}
	b.WriteString("cluster {\n")
	fmt.Fprintf(&b, "    name %s\n", quoteWord(clusterName))
	for i, name := range im.nodes {
		if im.notes[i] != "" {
			fmt.Fprintf(&b, "    # %s\n", im.notes[i])
		}
		if len(im.addrs[i]) == 0 {
			fmt.Fprintf(&b, "    node %s {\n    }\n", quoteWord(name))
			continue
		}
		var as []string
		for _, a := range im.addrs[i] {
			as = append(as, a.addr)
		}
		fmt.Fprintf(&b, "    node %s { address %s }\n", quoteWord(name), strings.Join(as, " "))
	}
	b.WriteString("}\n")

	for _, n := range im.trees[0] {
		b.WriteByte('\n')
		switch n.Keyword {
		case "global_defs":
			im.renderGlobal(&b, n)
		case "vrrp_instance":
			impRenderNode(&b, im.mergeInstance(n), 0)
		default:
			impRenderNode(&b, n, 0)
		}
	}
	return b.Bytes()
}

// clusterName derives a name from the router_ids (lb01, lb02 -> lb).
func (im *importer) clusterName() string {
	var ids []string
	for _, t := range im.trees {
		id := ""
		for _, n := range t {
			if n.Keyword == "global_defs" {
				if r := n.Find("router_id"); r != nil && len(r.Args) > 0 {
					id = r.Args[0]
				}
			}
		}
		if id == "" {
			return "keepalived"
		}
		ids = append(ids, id)
	}
	p := ids[0]
	for _, id := range ids[1:] {
		for !strings.HasPrefix(id, p) {
			p = p[:len(p)-1]
		}
	}
	p = strings.TrimRight(p, "-_.0123456789")
	if !impValidNodeName(p) {
		return "keepalived"
	}
	return p
}

// renderGlobal writes global_defs, dropping a router_id that differs per
// node (vigil names nodes in the cluster block).
func (im *importer) renderGlobal(b *bytes.Buffer, g *Node) {
	var ids []string
	same := true
	for i, t := range im.trees {
		id := "(none)"
		for _, n := range t {
			if n.Keyword == "global_defs" {
				if r := n.Find("router_id"); r != nil {
					id = impArgsText(r)
				}
			}
		}
		ids = append(ids, im.nodes[i]+": "+id)
		if i > 0 && strings.SplitN(ids[i], ": ", 2)[1] != strings.SplitN(ids[0], ": ", 2)[1] {
			same = false
		}
	}
	if same {
		impRenderNode(b, g, 0)
		return
	}
	fmt.Fprintf(b, "# router_id differed per node (%s);\n# vigil identifies the nodes by their names in the cluster block.\n", strings.Join(ids, ", "))
	c := *g
	c.Children = nil
	for _, n := range g.Children {
		if n.Keyword != "router_id" {
			c.Children = append(c.Children, n)
		}
	}
	if len(c.Children) > 0 {
		impRenderNode(b, &c, 0)
	}
}

// mergeInstance returns the vrrp_instance inst of the first file with its
// node-specific keywords turned into shared values and node overrides.
func (im *importer) mergeInstance(inst *Node) *Node {
	key := impKeyOf(inst)
	per := make([]*Node, len(im.trees)) // the instance in each file
	for i, t := range im.trees {
		per[i] = impIndex(t).m[key]
	}
	// The node keywords, in order of first appearance.
	var kws []string
	for _, p := range per {
		for _, c := range p.Children {
			if impInstanceNodeKeywords[c.Keyword] && !slices.Contains(kws, c.Keyword) {
				kws = append(kws, c.Keyword)
			}
		}
	}
	drop := map[string]bool{}
	overrides := make([][]*Node, len(im.trees))
	for _, kw := range kws {
		vals := make([]*Node, len(per))
		all, equal := true, true
		for i, p := range per {
			vals[i] = p.Find(kw)
			if vals[i] == nil {
				all = false
			} else if vals[0] == nil || impRenderText(vals[i]) != impRenderText(vals[0]) {
				equal = false
			}
		}
		if all && equal {
			continue // the same everywhere: shared, where the first file has it
		}
		// Present everywhere: the first file's value is the shared
		// default and the others override it (priority 100, node d2 {
		// priority 99 }). Else, or for addresses, each node has its own.
		shared := all && !impPerNodeOnly[kw]
		drop[kw] = !shared
		for i, v := range vals {
			if v != nil && !(shared && impRenderText(v) == impRenderText(vals[0])) {
				overrides[i] = append(overrides[i], v)
			}
		}
	}
	// Where the interface differs per node, "dev IFACE" naming the first
	// node's interface goes: the address then lands on each node's own.
	strip := ""
	for _, ov := range overrides {
		for _, o := range ov {
			if o.Keyword == "interface" {
				strip = impIface(per[0])
			}
		}
	}
	out := *inst
	out.Children = nil
	for _, c := range inst.Children {
		if drop[c.Keyword] {
			continue
		}
		if strip != "" && impDevLists[c.Keyword] {
			l := *c
			l.Children = nil
			for _, e := range c.Children {
				l.Children = append(l.Children, impStripDev(e, strip))
			}
			c = &l
		}
		out.Children = append(out.Children, c)
	}
	for i, ov := range overrides {
		if len(ov) > 0 {
			out.Children = append(out.Children, &Node{Keyword: "node", Args: []string{im.nodes[i]}, Block: true, Children: ov})
		}
	}
	return &out
}

// impAddr is a node address and where it was found.
type impAddr struct {
	addr string
	pos  Pos
}

// addresses finds every node's addresses (im.addrs, im.notes) and reports
// two nodes with the same address as drift.
func (im *importer) addresses(given map[string][]string) {
	im.addrs = make([][]impAddr, len(im.trees))
	im.notes = make([]string, len(im.trees))
	for i := range im.trees {
		if g, ok := given[im.nodes[i]]; ok {
			for _, a := range g {
				im.addrs[i] = append(im.addrs[i], impAddr{a, Pos{File: im.files[i]}})
			}
			continue
		}
		im.addrs[i], im.notes[i] = im.address(i)
	}
	owner := map[string]int{}
	for i, as := range im.addrs {
		for _, a := range as {
			if k, ok := owner[a.addr]; ok && k != i {
				im.drift(im.addrs[k][slices.IndexFunc(im.addrs[k], func(x impAddr) bool { return x.addr == a.addr })].pos, a.pos, "cluster",
					"nodes %s and %s would both have the address %s: each node needs its own (are these the files of different nodes?)", im.nodes[k], im.nodes[i], a.addr)
				continue
			}
			owner[a.addr] = i
		}
	}
}

// address finds the address of node i: the unicast_src_ip or mcast_src_ip
// of its instances (several distinct ones: one per heartbeat link), or
// else the one address the other nodes list as a unicast peer and node i
// does not. note explains an inferred or missing address.
func (im *importer) address(i int) (addrs []impAddr, note string) {
	// Walk the instances in the first file's order, so that the links
	// (one address each) come in the same order for every node.
	mine := impIndex(im.trees[i])
	for _, first := range im.trees[0] {
		n := mine.m[impKeyOf(first)]
		if first.Keyword != "vrrp_instance" || n == nil {
			continue
		}
		for _, kw := range []string{"unicast_src_ip", "mcast_src_ip"} {
			s := n.Find(kw)
			if s == nil || len(s.Args) == 0 {
				continue
			}
			if !slices.ContainsFunc(addrs, func(a impAddr) bool { return a.addr == s.Args[0] }) {
				addrs = append(addrs, impAddr{s.Args[0], s.Pos})
			}
			break
		}
	}
	if len(addrs) > 0 {
		return addrs, ""
	}
	peers := func(k int) []string {
		var l []string
		for _, n := range im.trees[k] {
			if n.Keyword != "vrrp_instance" {
				continue
			}
			if u := n.Find("unicast_peer"); u != nil {
				for _, c := range u.Children {
					if !slices.Contains(l, c.Keyword) {
						l = append(l, c.Keyword)
					}
				}
			}
		}
		return l
	}
	// The candidates: listed as a peer by every other node, not by i.
	own := peers(i)
	var cand []string
	first := true
	for j := range im.trees {
		if j == i {
			continue
		}
		var next []string
		for _, p := range peers(j) {
			if !slices.Contains(own, p) && (first || slices.Contains(cand, p)) {
				next = append(next, p)
			}
		}
		cand, first = next, false
	}
	// Point warnings at the first vrrp_instance of the file (or the file).
	at := Pos{File: im.files[i], Line: 1, Col: 1}
	for _, n := range im.trees[i] {
		if n.Keyword == "vrrp_instance" {
			at = n.Pos
			break
		}
	}
	if len(cand) == 1 {
		im.warns = append(im.warns, Warning{Pos: at, Keyword: "vrrp_instance",
			Msg: fmt.Sprintf("no unicast_src_ip or mcast_src_ip: the address of node %s, %s, is inferred from the unicast_peer lists of the other nodes", im.nodes[i], cand[0])})
		return []impAddr{{cand[0], at}}, fmt.Sprintf("address of %s inferred from the unicast_peer lists of the other nodes", im.nodes[i])
	}
	im.warns = append(im.warns, Warning{Pos: at, Keyword: "vrrp_instance",
		Msg: fmt.Sprintf("cannot determine the address of node %s (no unicast_src_ip, mcast_src_ip or unicast_peer lists to take it from): add `address` to node %s in the cluster block", im.nodes[i], im.nodes[i])})
	return nil, fmt.Sprintf("TODO: address of %s (one per heartbeat link): %s has no unicast_src_ip or mcast_src_ip to take it from", im.nodes[i], im.files[i])
}
