package config

import (
	"fmt"
	"slices"
	"strings"
)

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
