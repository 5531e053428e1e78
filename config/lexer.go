package config

import "strings"

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokEOL            // end of line (a statement ends)
	tokWord           // a bare word or a quoted string
	tokLBrace         // {
	tokRBrace         // }
)

// token is one lexical token. text is a substring of the source for bare
// words (no allocation) and a fresh string only for quoted strings with
// escapes.
type token struct {
	kind      tokKind
	text      string
	line, col int
}

// lexer splits one file into tokens the way keepalived's read_line and
// alloc_strvec do: whitespace separates words; '{' and '}' are tokens of
// their own even when glued to a word; '#' and '!' outside quotes begin a
// comment running to the end of the line, even inside a word (keepalived
// reads `foo#bar` as `foo`); a double-quoted string is
// one word (\" and \\ escape inside it); a backslash ending a line joins it
// with the next.
type lexer struct {
	file   string
	src    string
	off    int
	line   int
	bol    int // offset of the start of the current line
	unread []token
	err    *Error
}

func newLexer(file string, src string) *lexer {
	return &lexer{file: file, src: src, line: 1}
}

func (l *lexer) pos(line, col int) Pos { return Pos{File: l.file, Line: line, Col: col} }

// back pushes t back so that the next call to next returns it.
func (l *lexer) back(t token) { l.unread = append(l.unread, t) }

// next returns the next token. A lexical error (unterminated quote) is
// recorded in l.err and lexing continues after it.
func (l *lexer) next() token {
	if n := len(l.unread); n > 0 {
		t := l.unread[n-1]
		l.unread = l.unread[:n-1]
		return t
	}
	src := l.src
	for l.off < len(src) {
		c := src[l.off]
		switch c {
		case ' ', '\t', '\r', '\f', '\v':
			l.off++
			continue
		case '\n':
			t := token{kind: tokEOL, line: l.line, col: l.off - l.bol + 1}
			l.off++
			l.line++
			l.bol = l.off
			return t
		case '\\':
			// Line continuation: a backslash followed by optional
			// blanks and the end of the line.
			j := l.off + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r') {
				j++
			}
			if j < len(src) && src[j] == '\n' {
				l.off = j + 1
				l.line++
				l.bol = l.off
				continue
			}
			if j == len(src) {
				l.off = j
				continue
			}
		case '#', '!':
			for l.off < len(src) && src[l.off] != '\n' {
				l.off++
			}
			continue
		case '{':
			t := token{kind: tokLBrace, text: "{", line: l.line, col: l.off - l.bol + 1}
			l.off++
			return t
		case '}':
			t := token{kind: tokRBrace, text: "}", line: l.line, col: l.off - l.bol + 1}
			l.off++
			return t
		case '"':
			return l.quoted()
		}
		// A bare word.
		start := l.off
		for l.off < len(src) {
			switch src[l.off] {
			case ' ', '\t', '\r', '\n', '\f', '\v', '{', '}', '#', '!':
				goto done
			}
			l.off++
		}
	done:
		return token{kind: tokWord, text: src[start:l.off], line: l.line, col: start - l.bol + 1}
	}
	return token{kind: tokEOF, line: l.line, col: l.off - l.bol + 1}
}

func (l *lexer) quoted() token {
	src := l.src
	line, col := l.line, l.off-l.bol+1
	l.off++ // opening quote
	start := l.off
	escaped := false
	for l.off < len(src) {
		switch src[l.off] {
		case '\\':
			if l.off+1 < len(src) && (src[l.off+1] == '"' || src[l.off+1] == '\\') {
				escaped = true
				l.off += 2
				continue
			}
		case '"':
			text := src[start:l.off]
			l.off++
			if escaped {
				text = unescape(text)
			}
			return token{kind: tokWord, text: text, line: line, col: col}
		case '\n':
			goto unterminated
		}
		l.off++
	}
unterminated:
	if l.err == nil {
		l.err = &Error{Pos: l.pos(line, col), Msg: "unterminated quoted string"}
	}
	return token{kind: tokWord, text: src[start:l.off], line: line, col: col}
}

func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
