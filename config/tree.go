package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Node is one statement of the syntax tree: a keyword, its arguments, and a
// block if it has one. Inside list blocks (virtual_ipaddress, group,
// track_interface, ...) each line is a Node whose Keyword is the first word.
// Nodes read from an included file carry that file's name in Pos.File.
type Node struct {
	Pos      Pos
	Keyword  string
	Args     []string
	Children []*Node
	Block    bool
}

// String renders the statement line (without its block), quoting words
// that need it.
func (n *Node) String() string {
	var b strings.Builder
	b.WriteString(quoteWord(n.Keyword))
	for _, a := range n.Args {
		b.WriteByte(' ')
		b.WriteString(quoteWord(a))
	}
	return b.String()
}

// Words returns the keyword followed by the arguments.
func (n *Node) Words() []string {
	return append([]string{n.Keyword}, n.Args...)
}

// Find returns the last child with the given keyword, or nil.
func (n *Node) Find(keyword string) *Node {
	for i := len(n.Children) - 1; i >= 0; i-- {
		if n.Children[i].Keyword == keyword {
			return n.Children[i]
		}
	}
	return nil
}

func quoteWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"{}#!\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

const (
	maxIncludeDepth = 32
	maxBlockDepth   = 64
)

// ParseTree parses the syntax of a keepalived.conf: statements, blocks,
// comments, quotes and includes. name is the file name used in positions
// and the base for relative include patterns; src is its content. Included
// files are read from disk (relative patterns resolve against the
// directory of the including file) and spliced in where the include
// statement stood. The error, if any, is an ErrorList.
func ParseTree(name string, src []byte) ([]*Node, error) {
	return ParseTreeWith(name, src, Options{})
}

// Options adjust parsing.
type Options struct {
	// ConfigID selects keepalived's conditional lines: a line starting
	// with @ID is used only when ConfigID is ID, one starting with @^ID
	// only when it is not. keepalived defaults the id to the host name;
	// vigil passes the node name (empty: every @ID line is skipped).
	ConfigID string
}

// ParseTreeWith is ParseTree with options.
func ParseTreeWith(name string, src []byte, opt Options) ([]*Node, error) {
	nodes, _, err := parseTree(name, src, opt)
	return nodes, err
}

// parseTree also returns the files read.
func parseTree(name string, src []byte, opt Options) ([]*Node, []string, error) {
	p := &treeParser{opt: opt, files: []string{name}}
	p.push(name, p.substitute(name, string(src)))
	nodes := p.block(nil, 0)
	return nodes, p.files, p.errs.Err()
}

type treeParser struct {
	opt   Options
	files []string
	vars  map[string]string // keepalived $NAME=VALUE definitions
	stack []*lexer
	errs  ErrorList
	words []token // reused statement buffer
	// Slabs: nodes, argument and child slices are carved out of chunks
	// to avoid one allocation per statement (a 100,000-server config has
	// over half a million statements).
	nodes []Node
	args  []string
	kids  []*Node // stack of children of the open blocks
	kslab []*Node
}

const slabSize = 512

func (p *treeParser) newNode() *Node {
	if len(p.nodes) == 0 {
		p.nodes = make([]Node, slabSize)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	return n
}

func (p *treeParser) newArgs(k int) []string {
	if k > slabSize/4 {
		return make([]string, k)
	}
	if len(p.args) < k {
		p.args = make([]string, slabSize)
	}
	a := p.args[:k:k]
	p.args = p.args[k:]
	return a
}

// children copies the nodes pushed since mark into an exact-size slice.
func (p *treeParser) children(mark int) []*Node {
	k := len(p.kids) - mark
	if k == 0 {
		return nil
	}
	var out []*Node
	if k > slabSize/4 {
		out = make([]*Node, k)
	} else {
		if len(p.kslab) < k {
			p.kslab = make([]*Node, slabSize)
		}
		out = p.kslab[:k:k]
		p.kslab = p.kslab[k:]
	}
	copy(out, p.kids[mark:])
	clear(p.kids[mark:])
	p.kids = p.kids[:mark]
	return out
}

func (p *treeParser) push(name, src string) {
	p.stack = append(p.stack, newLexer(name, src))
}

func (p *treeParser) errorf(pos Pos, kw, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Keyword: kw, Msg: fmt.Sprintf(format, args...)})
}

// next returns the next token of the include stack, popping finished files.
// The returned lexer is the one the token came from.
func (p *treeParser) next() (token, *lexer) {
	l := p.stack[len(p.stack)-1]
	t := l.next()
	if l.err != nil {
		p.errs = append(p.errs, l.err)
		l.err = nil
	}
	if t.kind == tokEOF && len(p.stack) > 1 {
		// An included file ends: its last statement ends too.
		p.stack = p.stack[:len(p.stack)-1]
		return token{kind: tokEOL, line: t.line, col: t.col}, l
	}
	return t, l
}

// block parses statements until the '}' closing open (or EOF at top level).
func (p *treeParser) block(open *Node, depth int) []*Node {
	mark := len(p.kids)
	for {
		p.words = p.words[:0]
		var term token
		var tl *lexer
		for {
			term, tl = p.next()
			if term.kind != tokWord {
				break
			}
			p.words = append(p.words, term)
		}
		if len(p.words) == 0 {
			switch term.kind {
			case tokEOL:
				continue
			case tokLBrace:
				p.errorf(tl.pos(term.line, term.col), "", "unexpected '{' without a keyword before it")
				// Parse and drop the block so its '}' does not close ours.
				p.block(&Node{Pos: tl.pos(term.line, term.col)}, depth+1)
				continue
			case tokRBrace:
				if open == nil {
					p.errorf(tl.pos(term.line, term.col), "", "unexpected '}' with no open block")
					continue
				}
				return p.children(mark)
			default: // EOF
				if open != nil {
					p.errorf(open.Pos, open.Keyword, "block opened here is not closed (missing '}')")
				}
				return p.children(mark)
			}
		}
		skip := false
		if w := p.words[0].text; len(w) > 1 && w[0] == '@' {
			if w[1] == '^' {
				skip = w[2:] == p.opt.ConfigID
			} else {
				skip = w[1:] != p.opt.ConfigID
			}
			if len(p.words) == 1 {
				if term.kind == tokLBrace {
					p.errorf(tl.pos(p.words[0].line, p.words[0].col), w, "conditional prefix without a keyword")
				}
				if term.kind == tokRBrace {
					tl.back(term)
				}
				continue
			}
			p.words = p.words[1:]
		}
		first := p.words[0]
		n := p.newNode()
		n.Pos, n.Keyword = tl.pos(first.line, first.col), first.text
		if len(p.words) > 1 {
			n.Args = p.newArgs(len(p.words) - 1)
			for i, w := range p.words[1:] {
				n.Args[i] = w.text
			}
		}
		// The position belongs to the file the first word came from. A
		// statement never spans files, because the end of an included
		// file ends its statement.
		if n.Keyword == "include" && !skip {
			if term.kind != tokEOL && term.kind != tokEOF {
				tl.back(term)
			}
			p.include(n)
			continue
		}
		if term.kind == tokEOL {
			// keepalived allows the '{' of a block on the next line.
			for {
				t, l := p.next()
				if t.kind == tokEOL {
					continue
				}
				if t.kind == tokLBrace {
					term = t
				} else {
					l.back(t)
				}
				break
			}
		}
		switch term.kind {
		case tokLBrace:
			n.Block = true
			if depth >= maxBlockDepth {
				p.errorf(n.Pos, n.Keyword, "blocks nested more than %d deep", maxBlockDepth)
				p.stack = p.stack[:1]
				p.stack[0].off = len(p.stack[0].src)
				p.stack[0].unread = nil
				return p.children(mark)
			}
			n.Children = p.block(n, depth+1)
			p.appendUnless(n, skip)
		case tokRBrace:
			p.appendUnless(n, skip)
			if open == nil {
				p.errorf(tl.pos(term.line, term.col), "", "unexpected '}' with no open block")
				continue
			}
			return p.children(mark)
		case tokEOF:
			p.appendUnless(n, skip)
			if open != nil {
				p.errorf(open.Pos, open.Keyword, "block opened here is not closed (missing '}')")
			}
			return p.children(mark)
		default:
			p.appendUnless(n, skip)
		}
	}
}

func (p *treeParser) appendUnless(n *Node, skip bool) {
	if !skip {
		p.kids = append(p.kids, n)
	}
}

// include resolves an include statement and pushes the matched files onto
// the lexer stack, the first match on top. As keepalived does, a glob
// pattern matching nothing is not an error; a plain path that does not
// exist is.
func (p *treeParser) include(n *Node) {
	if len(n.Args) == 0 {
		p.errorf(n.Pos, "include", "missing file name or pattern")
		return
	}
	var files []string
	for _, pat := range n.Args {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(n.Pos.File), pat)
		}
		if !strings.ContainsAny(pat, "*?[") {
			files = append(files, pat)
			continue
		}
		m, err := filepath.Glob(pat)
		if err != nil {
			p.errorf(n.Pos, "include", "bad pattern %q: %v", pat, err)
			continue
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	type loaded struct{ name, src string }
	var srcs []loaded
	for _, f := range files {
		if len(p.stack) > maxIncludeDepth {
			p.errorf(n.Pos, "include", "includes nested more than %d deep", maxIncludeDepth)
			return
		}
		if chain, cyc := p.cycle(f); cyc {
			p.errorf(n.Pos, "include", "include cycle: %s", chain)
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			p.errorf(n.Pos, "include", "%v", err)
			continue
		}
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			p.errorf(n.Pos, "include", "%s is a directory", f)
			continue
		}
		srcs = append(srcs, loaded{f, p.substitute(f, string(b))})
		p.files = append(p.files, f)
	}
	for i := len(srcs) - 1; i >= 0; i-- {
		p.push(srcs[i].name, srcs[i].src)
	}
}

// cycle reports whether f is already being read, and the chain of files.
func (p *treeParser) cycle(f string) (string, bool) {
	abs := func(s string) string {
		a, err := filepath.Abs(s)
		if err != nil {
			return filepath.Clean(s)
		}
		return a
	}
	af := abs(f)
	for i, l := range p.stack {
		if abs(l.file) == af {
			var names []string
			for _, m := range p.stack[i:] {
				names = append(names, m.file)
			}
			return strings.Join(append(names, f), " -> "), true
		}
	}
	return "", false
}
