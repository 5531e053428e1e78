package config

import (
	"errors"
	"fmt"
	"strings"
)

// Pos is a position in a configuration file. Line and Col are 1-based; Col
// counts bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File // a whole file (it could not be read)
	}
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one syntax or validation error. Error() renders
// "file:line:col: keyword: msg" (the keyword part is left out when empty).
type Error struct {
	Pos     Pos
	Keyword string
	Msg     string
}

func (e *Error) Error() string {
	if e.Keyword == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Keyword + ": " + e.Msg
}

// ErrorList is every error found in one parse, in the order found. It
// implements error (one error per line) and unwraps to its elements, so
// errors.As(err, &e) with e *Error finds the first one.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the elements, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Warning is a non-fatal finding, for example a deprecated keyword.
type Warning struct {
	Pos     Pos
	Keyword string
	Msg     string
}

func (w Warning) String() string {
	if w.Keyword == "" {
		return w.Pos.String() + ": warning: " + w.Msg
	}
	return w.Pos.String() + ": " + w.Keyword + ": warning: " + w.Msg
}

// Sentinel errors, for errors.Is.
var (
	// ErrNoCluster: the configuration has no cluster block (a plain
	// keepalived.conf).
	ErrNoCluster = errors.New("no cluster block (a plain keepalived.conf); add cluster { name ...; node NAME { address ... } ... }")
	// ErrNoLocalNode: no single cluster node matches this host.
	ErrNoLocalNode = errors.New("cannot tell which node this host is")
	// ErrUnknownNode: a node name that the cluster block does not define.
	ErrUnknownNode = errors.New("unknown node")
)
