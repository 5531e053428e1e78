package config

import "strings"

// Format renders a syntax tree in normalized keepalived.conf syntax: one
// statement per line, blocks indented by four spaces, words quoted where
// needed, comments dropped and includes expanded (the tree holds them
// inline). ParseTree(Format(t)) yields t again, positions aside.
func Format(nodes []*Node) string {
	var b strings.Builder
	format(&b, nodes, 0)
	return b.String()
}

func format(b *strings.Builder, nodes []*Node, depth int) {
	for _, n := range nodes {
		for range depth {
			b.WriteString("    ")
		}
		b.WriteString(n.String())
		if n.Block {
			b.WriteString(" {\n")
			format(b, n.Children, depth+1)
			for range depth {
				b.WriteString("    ")
			}
			b.WriteString("}")
		}
		b.WriteByte('\n')
	}
}
