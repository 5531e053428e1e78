// Package proc runs the external programs of package fencing (keepalived
// notify scripts and fence-peer hooks) the way a failover path needs them
// run: each in its own process group, with a timeout after which the whole
// group is terminated (SIGTERM, then SIGKILL after a grace period), always
// waited for, and optionally as another user.
//
// Ordering contract of Run (Linux):
//  1. Start the program as the leader of a new process group.
//  2. Wait for the leader to exit without reaping it (waitid WNOWAIT), so
//     that its process-group id cannot be reused while we signal it.
//  3. On timeout or context cancellation: SIGTERM the group, wait up to
//     KillGrace, then SIGKILL the group.
//  4. Once the leader has exited, SIGKILL whatever is left of its group: a
//     script's background children do not outlive it. (A program that must
//     keep running after the script detaches with setsid, as daemons do.)
//  5. Reap the leftovers that were re-parented to this process (when it is a
//     child subreaper, see SetSubreaper), then reap the leader.
//
// Without SetSubreaper, killed leftovers are re-parented to PID 1 and reaped
// there (systemd does; a bare container init may not).
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Spec describes one run.
type Spec struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH
	// when it has no slash.
	Argv []string
	// Env is appended to this process's environment.
	Env []string
	// User and Group, when set, are the account the program runs as
	// (keepalived's "[username [groupname]]"); Group defaults to the user's
	// primary group.
	User, Group string
	// Timeout bounds the run; zero means no timeout (the context still
	// applies).
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL; zero means 1s.
	KillGrace time.Duration
}

// Result describes a finished run.
type Result struct {
	Pid      int
	ExitCode int  // -1 when killed by a signal
	TimedOut bool // the timeout (or the context) ended the run
	Duration time.Duration
	Output   string // combined stdout and stderr, truncated to MaxOutput
	Reaped   int    // leftover group members this process reaped
}

// MaxOutput is how much of a program's output Result keeps.
const MaxOutput = 4096

var (
	// ErrTimeout is returned (wrapped) when the run was killed at its
	// timeout or because its context ended.
	ErrTimeout = errors.New("timed out")
	// ErrExit is returned (wrapped) when the program exited non-zero.
	ErrExit = errors.New("exited non-zero")
	// ErrUnimplemented is returned on systems without process groups.
	ErrUnimplemented = errors.New("proc: not implemented on this system")
)

// Error is the error of a failed run: Op names the program.
type Error struct {
	Op     string
	Result Result
	Err    error
}

func (e *Error) Error() string {
	switch {
	case errors.Is(e.Err, ErrExit):
		return fmt.Sprintf("%s: exit status %d", e.Op, e.Result.ExitCode)
	default:
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// capBuffer keeps the first MaxOutput bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := MaxOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
