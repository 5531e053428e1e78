package config

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// ParseFile reads path (and its includes), builds the model, fills in the
// defaults and validates it. The error, if any, is an ErrorList naming
// every problem found; the warnings (deprecated keywords, ...) come back
// even when there are errors.
func ParseFile(path string) (*Config, []Warning, error) {
	return ParseFileWith(path, Options{})
}

// ParseFileWith is ParseFile with options.
func ParseFileWith(path string, opt Options) (*Config, []Warning, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, ErrorList{{Pos: Pos{File: path}, Msg: err.Error()}}
	}
	return ParseWith(path, src, opt)
}

// Parse is ParseFile for a configuration already in memory; name is used
// in positions and as the base for relative includes.
func Parse(name string, src []byte) (*Config, []Warning, error) {
	return ParseWith(name, src, Options{})
}

// ParseWith is Parse with options.
func ParseWith(name string, src []byte, opt Options) (*Config, []Warning, error) {
	tree, files, err := parseTree(name, src, opt)
	b := &builder{}
	if el, ok := err.(ErrorList); ok {
		b.errs = append(b.errs, el...)
	}
	c := b.config(tree)
	c.Files = files
	if len(b.errs) == 0 {
		validate(b, c)
	}
	sortByPos(files, b.warns, func(w Warning) Pos { return w.Pos })
	sortByPos(files, b.errs, func(e *Error) Pos { return e.Pos })
	if len(b.errs) > 0 {
		return c, b.warns, b.errs
	}
	return c, b.warns, nil
}

// sortByPos orders findings by file (in the order read), line and column,
// keeping the order of findings at the same position.
func sortByPos[T any](files []string, list []T, pos func(T) Pos) {
	rank := make(map[string]int, len(files))
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := pos(list[i]), pos(list[j])
		if ra, rb := rank[a.File], rank[b.File]; ra != rb {
			return ra < rb
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// builder turns nodes into the model, collecting errors and warnings.
type builder struct {
	errs  ErrorList
	warns []Warning
}

func (b *builder) errorf(n *Node, format string, args ...any) {
	b.errs = append(b.errs, &Error{Pos: n.Pos, Keyword: n.Keyword, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) errorAt(pos Pos, kw, format string, args ...any) {
	b.errs = append(b.errs, &Error{Pos: pos, Keyword: kw, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) warnf(n *Node, format string, args ...any) {
	b.warns = append(b.warns, Warning{Pos: n.Pos, Keyword: n.Keyword, Msg: fmt.Sprintf(format, args...)})
}

// entry describes one keyword valid in a block of type T.
type entry[T any] struct {
	fn func(b *builder, n *Node, t *T)
	// alias, when set, marks a deprecated keyword: the canonical one.
	alias string
}

type table[T any] map[string]entry[T]

// apply runs the handler of each node, reporting unknown keywords with a
// suggestion among the keywords of the table.
func apply[T any](b *builder, tab table[T], nodes []*Node, t *T, where string) {
	applyExcept(b, tab, nodes, t, where, nil)
}

// applyExcept is apply skipping the nodes for which skip returns true.
func applyExcept[T any](b *builder, tab table[T], nodes []*Node, t *T, where string, skip func(*Node) bool) {
	for _, n := range nodes {
		if skip != nil && skip(n) {
			continue
		}
		e, ok := tab[n.Keyword]
		if !ok {
			b.unknown(n, where, tab.keys())
			continue
		}
		if e.alias != "" {
			b.warnf(n, "deprecated keyword; use %s", e.alias)
		}
		e.fn(b, n, t)
	}
}

func (tab table[T]) keys() []string {
	ks := make([]string, 0, len(tab))
	for k := range tab {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (b *builder) unknown(n *Node, where string, keys []string) {
	msg := "unknown keyword in " + where
	if s := suggest(n.Keyword, keys); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if topLevelBlocks[n.Keyword] && where != "the top level" {
		msg += fmt.Sprintf(" (%s is a top-level block: is a '}' missing above it?)", n.Keyword)
	}
	b.errorf(n, "%s", msg)
}

// topLevelBlocks are the blocks that only stand at the top level; meeting
// one inside a block usually means a '}' is missing.
var topLevelBlocks = map[string]bool{
	"global_defs": true, "vrrp_instance": true, "vrrp_sync_group": true, "vrrp_script": true,
	"virtual_server": true, "virtual_server_group": true, "cluster": true, "track_file": true,
	"static_ipaddress": true, "static_routes": true, "vrrp_track_process": true, "bfd_instance": true,
}

// canonical returns the canonical name of kw in tab (itself, or the
// keyword it is a deprecated alias of).
func canonical[T any](tab table[T], kw string) string {
	if e, ok := tab[kw]; ok && e.alias != "" {
		return e.alias
	}
	return kw
}

// ---- argument helpers ----

// nargs checks that n has between lo and hi arguments (hi < 0: no limit).
func (b *builder) nargs(n *Node, lo, hi int) bool {
	k := len(n.Args)
	if k >= lo && (hi < 0 || k <= hi) {
		return true
	}
	switch {
	case lo == hi && lo == 0:
		b.errorf(n, "takes no argument, got %d", k)
	case lo == hi:
		b.errorf(n, "expects %d argument(s), got %d", lo, k)
	case hi < 0:
		b.errorf(n, "expects at least %d argument(s), got %d", lo, k)
	default:
		b.errorf(n, "expects %d to %d arguments, got %d", lo, hi, k)
	}
	return false
}

func (b *builder) noBlock(n *Node) bool {
	if n.Block {
		b.errorf(n, "does not take a block")
		return false
	}
	return true
}

// str returns the single argument of n.
func (b *builder) str(n *Node) (string, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, 1) {
		return "", false
	}
	return n.Args[0], true
}

// joined returns all arguments joined by spaces (script command lines:
// `notify_master /bin/x arg` and `notify_master "/bin/x arg"` are the same).
func (b *builder) joined(n *Node) (string, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, -1) {
		return "", false
	}
	return strings.Join(n.Args, " "), true
}

// intArg parses argument i of n as an integer in [lo, hi].
func (b *builder) intArg(n *Node, i, lo, hi int) (int, bool) {
	if i >= len(n.Args) {
		b.errorf(n, "missing argument")
		return 0, false
	}
	v, err := strconv.Atoi(n.Args[i])
	if err != nil {
		b.errorf(n, "%q is not an integer", n.Args[i])
		return 0, false
	}
	if v < lo || v > hi {
		b.errorf(n, "%d out of range %d-%d", v, lo, hi)
		return 0, false
	}
	return v, true
}

// int1 is intArg for a keyword with exactly one argument.
func (b *builder) int1(n *Node, lo, hi int) (int, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, 1) {
		return 0, false
	}
	return b.intArg(n, 0, lo, hi)
}

// dur1 parses the single argument as seconds (fractions allowed) in
// [0, max] seconds.
func (b *builder) dur1(n *Node, max float64) (Duration, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, 1) {
		return 0, false
	}
	return b.durArg(n, 0, max)
}

// posDur1 is dur1 for a duration that must be positive (keepalived:
// "number '0' outside range [0.000001, ...]").
func (b *builder) posDur1(n *Node, max float64) (Duration, bool) {
	d, ok := b.dur1(n, max)
	if ok && d <= 0 {
		b.errorf(n, "%s must be more than 0 seconds", n.Args[0])
		return 0, false
	}
	return d, ok
}

func (b *builder) durArg(n *Node, i int, max float64) (Duration, bool) {
	f, err := strconv.ParseFloat(n.Args[i], 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		b.errorf(n, "%q is not a number of seconds", n.Args[i])
		return 0, false
	}
	if f < 0 || f > max {
		b.errorf(n, "%s seconds out of range 0-%g", n.Args[i], max)
		return 0, false
	}
	return seconds(f), true
}

// flag is a keyword taking an optional boolean: bare means true.
func (b *builder) flag(n *Node) (bool, bool) {
	if !b.noBlock(n) || !b.nargs(n, 0, 1) {
		return false, false
	}
	if len(n.Args) == 0 {
		return true, true
	}
	switch strings.ToLower(n.Args[0]) {
	case "on", "true", "yes", "1":
		return true, true
	case "off", "false", "no", "0":
		return false, true
	}
	b.errorf(n, "%q is not a boolean (on|off|true|false|yes|no)", n.Args[0])
	return false, false
}

// bare is a keyword taking no argument.
func (b *builder) bare(n *Node) bool {
	return b.noBlock(n) && b.nargs(n, 0, 0)
}

func (b *builder) addrArg(n *Node, i int) (netip.Addr, bool) {
	if i >= len(n.Args) {
		b.errorf(n, "missing address")
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(n.Args[i])
	if err != nil {
		b.errorf(n, "%q is not an IP address", n.Args[i])
		return netip.Addr{}, false
	}
	return a, true
}

func (b *builder) addr1(n *Node) (netip.Addr, bool) {
	if !b.noBlock(n) || !b.nargs(n, 1, 1) {
		return netip.Addr{}, false
	}
	return b.addrArg(n, 0)
}

// portArg parses argument i as a port 1-65535.
func (b *builder) portArg(n *Node, i int) (int, bool) { return b.intArg(n, i, 1, 65535) }

// block checks that n has a block.
func (b *builder) block(n *Node) bool {
	if !n.Block {
		b.errorf(n, "expects a block { ... }")
		return false
	}
	return true
}

// other records an accepted keyword vigil does not act on.
func other(m *map[string]string, n *Node) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[n.Keyword] = strings.Join(n.Args, " ")
}
