package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// keepalived's parameter substitution (keepalived.conf(5), "Parameter
// substitution"): a line `$NAME=VALUE` defines NAME, and `$NAME` or
// `${NAME}` on a later line is replaced by VALUE. vigil applies it to each
// file as it is read; definitions made in an included file (a shared
// variables file, typically) hold for the lines after the include and in
// the files included later. Line numbers stay exact (a definition line reads as empty);
// columns after a substitution on the same line count the substituted
// text. Not supported: multi-line definitions, keepalived's built-in
// variables (${_INSTANCE}, ...) and ~SEQ loops; an undefined $NAME is left
// as written.
func (p *treeParser) substitute(file, src string) string {
	return p.substituteDepth(file, src, 0)
}

func (p *treeParser) substituteDepth(file, src string, depth int) string {
	if !strings.Contains(src, "$") {
		return src
	}
	lines := strings.SplitAfter(src, "\n")
	for i, line := range lines {
		body := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(body, "include") && depth < maxIncludeDepth {
			p.scanIncludedDefinitions(file, p.expand(body), depth)
		}
		if strings.HasPrefix(body, "$") {
			if name, value, ok := strings.Cut(strings.TrimRight(body[1:], "\r\n"), "="); ok && isIdent(strings.TrimSpace(name)) {
				name = strings.TrimSpace(name)
				if p.vars == nil {
					p.vars = map[string]string{}
				}
				p.vars[name] = strings.TrimSpace(p.expand(value))
				lines[i] = line[len(line)-len(lineEnd(line)):]
				continue
			}
		}
		if strings.Contains(line, "$") && len(p.vars) > 0 {
			lines[i] = p.expand(line)
		}
	}
	return strings.Join(lines, "")
}

// scanIncludedDefinitions reads the definitions of the files an include
// line names, so that they hold for the rest of the including file. The
// files are read again, and their statements parsed, when the include is
// reached.
func (p *treeParser) scanIncludedDefinitions(file, line string, depth int) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "include" {
		return
	}
	for _, pat := range f[1:] {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(file), pat)
		}
		matches, _ := filepath.Glob(pat)
		sort.Strings(matches)
		for _, m := range matches {
			if b, err := os.ReadFile(m); err == nil {
				p.substituteDepth(m, string(b), depth+1)
			}
		}
	}
}

func lineEnd(line string) string {
	if strings.HasSuffix(line, "\r\n") {
		return "\r\n"
	}
	if strings.HasSuffix(line, "\n") {
		return "\n"
	}
	return ""
}

// expand replaces $NAME and ${NAME} of defined names in s.
func (p *treeParser) expand(s string) string {
	var b strings.Builder
	for {
		k := strings.IndexByte(s, '$')
		if k < 0 || k+1 >= len(s) {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:k])
		rest := s[k+1:]
		var name string
		var n int // bytes consumed after '$'
		if rest[0] == '{' {
			if end := strings.IndexByte(rest, '}'); end > 0 {
				name, n = rest[1:end], end+1
			}
		} else {
			for n < len(rest) && (rest[n] == '_' || isAlnum(rest[n])) {
				n++
			}
			name = rest[:n]
		}
		if v, ok := p.vars[name]; ok && name != "" {
			b.WriteString(v)
			s = rest[n:]
			continue
		}
		b.WriteByte('$')
		s = rest
	}
}

func isIdent(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '_' && !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
