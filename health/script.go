package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// ScriptSpec is a command that health runs: a MISC_CHECK misc_path, a
// vrrp_script script, a notify_up/notify_down command.
type ScriptSpec struct {
	// Command is the keepalived command line: words split on blanks, double
	// or single quotes grouping words. The first word is the program, looked
	// up in PATH when it has no slash.
	Command string
	User    string // run as this user (script_user / user); empty: as ourselves
	Group   string // and this group; default the user's primary group
	// Security is enable_script_security: refuse a script that runs as root
	// when it, or any directory on its path, is writable by a non-root user
	// (keepalived's rule: owned by non-root, or group-writable with a
	// non-root group, or world-writable, a directory with the sticky bit
	// excepted).
	Security bool
}

// Script is a validated, ready-to-run command. Run is safe for concurrent
// use.
type Script struct {
	args []string
	uid  int // -1: inherit
	gid  int
	gids []uint32
	user string
}

// ScriptStatus is how a script run ended.
type ScriptStatus struct {
	Exit     int  // exit status; -1 when killed by a signal or not started
	TimedOut bool // killed (with its whole process group) at the deadline
	Err      error
}

// ErrScriptTimeout is wrapped by the Err of a run killed at its deadline.
var ErrScriptTimeout = errors.New("script timed out")

// NewScript validates spec: the program exists and is a regular executable
// file, the user and group exist, and with Security the path is safe.
func NewScript(spec ScriptSpec) (*Script, error) {
	args, err := splitCommand(spec.Command)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errors.New("empty command")
	}
	prog := args[0]
	if !strings.Contains(prog, "/") {
		p, err := exec.LookPath(prog)
		if err != nil {
			return nil, fmt.Errorf("%s: not found in PATH", prog)
		}
		prog = p
	}
	st, err := os.Stat(prog)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", prog, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("script %s: not a regular file", prog)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("script %s: not executable (mode %v)", prog, st.Mode().Perm())
	}
	args[0] = prog
	s := &Script{args: args, uid: -1, gid: -1}
	if spec.User != "" {
		u, err := user.Lookup(spec.User)
		if err != nil {
			return nil, fmt.Errorf("script user %q: %w", spec.User, err)
		}
		s.user = u.Username
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil {
					s.gids = append(s.gids, uint32(n))
				}
			}
		}
	}
	if spec.Group != "" {
		g, err := user.LookupGroup(spec.Group)
		if err != nil {
			return nil, fmt.Errorf("script group %q: %w", spec.Group, err)
		}
		s.gid, _ = strconv.Atoi(g.Gid)
		if s.uid < 0 {
			s.uid = os.Geteuid()
		}
	}
	runsAsRoot := s.uid == 0 || (s.uid < 0 && os.Geteuid() == 0)
	if spec.Security && runsAsRoot {
		if err := checkScriptSecurity(prog); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Args returns the program and its arguments.
func (s *Script) Args() []string { return append([]string(nil), s.args...) }

// checkScriptSecurity applies keepalived's enable_script_security rule to
// every component of the script's resolved path.
func checkScriptSecurity(prog string) error {
	real, err := filepath.EvalSymlinks(prog)
	if err != nil {
		return fmt.Errorf("script %s: %w", prog, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return fmt.Errorf("script %s: %w", prog, err)
	}
	p := real
	for {
		if why := unsafePath(p); why != "" {
			return fmt.Errorf("%w: %s runs as root but %s is %s (enable_script_security)", ErrUnsafeScript, prog, p, why)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// splitCommand splits a keepalived command line into words: blanks
// separate, "..." and '...' group, a backslash escapes the next character.
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q: unterminated quote", s)
	}
	if esc {
		return nil, fmt.Errorf("command %q: trailing backslash", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

type miscChecker struct {
	script  *Script
	dynamic bool
}

func newMiscChecker(spec CheckSpec) (*miscChecker, error) {
	if spec.MiscPath == "" {
		return nil, specErr(KindMisc, "misc_path", "missing")
	}
	s, err := NewScript(ScriptSpec{Command: spec.MiscPath, User: spec.User, Group: spec.Group, Security: spec.ScriptSecurity})
	if err != nil {
		if errors.Is(err, ErrUnsafeScript) {
			return nil, &SpecError{Kind: KindMisc, Field: "misc_path", Err: err}
		}
		return nil, &SpecError{Kind: KindMisc, Field: "misc_path", Err: fmt.Errorf("%w: %w", ErrBadSpec, err)}
	}
	return &miscChecker{script: s, dynamic: spec.MiscDynamic}, nil
}

// Check runs misc_path until it exits or the probe's deadline (misc_timeout)
// passes. Exit 0 is up and 1 down; 2..255 is up with the weight set to
// status-2 under misc_dynamic, and down without it (any non-zero status
// fails, as in keepalived). A timeout is a failure.
func (c *miscChecker) Check(ctx context.Context) Result {
	st := c.script.Run(ctx)
	switch {
	case st.TimedOut:
		return down("%s: killed after the timeout", c.script.args[0])
	case st.Err != nil && st.Exit < 0:
		return down("%s: %v", c.script.args[0], st.Err)
	case st.Exit == 0:
		return up("exit 0")
	case st.Exit == 1:
		return down("%s: exit 1", c.script.args[0])
	case c.dynamic:
		return Result{Up: true, Reason: fmt.Sprintf("exit %d", st.Exit), Weight: st.Exit - 2, HasWeight: true}
	default:
		return down("%s: exit %d", c.script.args[0], st.Exit)
	}
}
