package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

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
