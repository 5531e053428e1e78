//go:build linux

package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// SetSubreaper makes this process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER): orphans of the programs Run starts are
// re-parented here instead of to PID 1, so Run can reap the leftovers it
// kills. The agent calls it once at start-up.
func SetSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("proc: set child subreaper: %w", err)
	}
	return nil
}

// Run runs s to completion as described in the package doc. It returns an
// *Error wrapping ErrTimeout when the run was killed, ErrExit when the
// program exited non-zero, or the start error.
func Run(ctx context.Context, s Spec) (Result, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return Result{}, &Error{Op: "run", Err: errors.New("empty command")}
	}
	op := "run " + s.Argv[0]
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	out := &capBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Leftovers are killed before Wait; this only bounds a pathological
	// holder of the output pipe that escaped the group.
	cmd.WaitDelay = time.Second
	attr := &syscall.SysProcAttr{Setpgid: true}
	if s.User != "" {
		cred, err := credential(s.User, s.Group)
		if err != nil {
			return Result{}, &Error{Op: op, Err: err}
		}
		attr.Credential = cred
	}
	cmd.SysProcAttr = attr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, &Error{Op: op, Err: err}
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- waitNoReap(pid) }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	timedOut := false
	select {
	case <-exited:
	case <-timeout:
		timedOut = true
	case <-ctx.Done():
		timedOut = true
	}
	if timedOut {
		grace := s.KillGrace
		if grace <= 0 {
			grace = time.Second
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		g := time.NewTimer(grace)
		select {
		case <-exited:
		case <-g.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
		g.Stop()
	}
	// The leader has exited but is not reaped: its group id is still ours.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	reaped := reapGroup(pid)
	werr := cmd.Wait()

	res := Result{Pid: pid, TimedOut: timedOut, Duration: time.Since(start), Output: out.String(), Reaped: reaped, ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case timedOut:
		if err := ctx.Err(); err != nil {
			return res, &Error{Op: op, Result: res, Err: fmt.Errorf("%w: %w", ErrTimeout, err)}
		}
		return res, &Error{Op: op, Result: res, Err: fmt.Errorf("%w after %v", ErrTimeout, s.Timeout)}
	case res.ExitCode != 0:
		return res, &Error{Op: op, Result: res, Err: ErrExit}
	case werr != nil && !errors.Is(werr, exec.ErrWaitDelay):
		return res, &Error{Op: op, Result: res, Err: werr}
	}
	return res, nil
}

// waitNoReap blocks until pid exits, leaving it a zombie.
func waitNoReap(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// reapGroup waits for the members of process group pgid other than its
// leader to die, reaping those re-parented to this process. It gives up
// after two seconds (a member stuck in the kernel).
func reapGroup(pgid int) int {
	self := os.Getpid()
	reaped := 0
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		pending := false
		for _, m := range groupMembers(pgid) {
			if m.pid == pgid {
				continue
			}
			if m.ppid == self {
				var ws syscall.WaitStatus
				if got, err := syscall.Wait4(m.pid, &ws, syscall.WNOHANG, nil); err == nil && got == m.pid {
					reaped++
					continue
				}
				pending = true
			} else if m.state != 'Z' && m.state != 'X' {
				pending = true
			}
		}
		if !pending {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return reaped
}

type member struct {
	pid, ppid int
	state     byte
}

// groupMembers lists the processes of group pgid from /proc.
func groupMembers(pgid int) []member {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var ms []member
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		pg, _ := strconv.Atoi(f[2])
		if pg != pgid {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ms = append(ms, member{pid: pid, ppid: ppid, state: f[0][0]})
	}
	return ms
}

// credential resolves keepalived's "username [groupname]".
func credential(userName, groupName string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", userName, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", userName, u.Uid, err)
	}
	gidStr := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("look up group %q: %w", groupName, err)
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("group of %q: gid %q: %w", userName, gidStr, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	if groupName == "" {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	return cred, nil
}
