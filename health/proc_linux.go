package health

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// Run runs the script once, to completion or until ctx is done.
//
// The script starts in a process group of its own (and dies with us,
// PDEATHSIG). Whether it exits or times out, the whole group is then sent
// SIGKILL before the leader is reaped: the leader is first waited for with
// WNOWAIT, so its pid (the group's id) cannot be reused while the group is
// killed, and a child it left running in the background dies with it.
// Run always reaps: it leaves no zombie and, short of a child that escaped
// the group with setsid, no orphan. Its stdin, stdout and stderr are
// /dev/null.
func (s *Script) Run(ctx context.Context) ScriptStatus {
	if err := ctx.Err(); err != nil {
		return ScriptStatus{Exit: -1, Err: err}
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid), Groups: s.gids}
	}
	if err := cmd.Start(); err != nil {
		return ScriptStatus{Exit: -1, Err: fmt.Errorf("start %s: %w", s.args[0], err)}
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}()
	timedOut := false
	select {
	case <-exited:
	case <-ctx.Done():
		timedOut = true
	}
	_ = unix.Kill(-pid, unix.SIGKILL) // the leader is unreaped: -pid is still our group
	<-exited
	err := cmd.Wait()
	st := ScriptStatus{Exit: cmd.ProcessState.ExitCode(), Err: err}
	if timedOut {
		st.TimedOut, st.Exit = true, -1
		st.Err = fmt.Errorf("%s: %w (%w)", s.args[0], ErrScriptTimeout, context.Cause(ctx))
	} else if st.Exit >= 0 {
		st.Err = nil
	}
	return st
}

// unsafePath reports why path fails keepalived's script-security rule, or
// "" when it passes.
func unsafePath(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Sprintf("unreadable (%v)", err)
	}
	mode := fmt.Sprintf("mode %#o", st.Mode&0o7777)
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	isReg := st.Mode&unix.S_IFMT == unix.S_IFREG
	sticky := st.Mode&unix.S_ISVTX != 0
	switch {
	case st.Uid != 0:
		return fmt.Sprintf("owned by uid %d", st.Uid)
	case (isDir && !sticky) || isReg:
		if st.Gid != 0 && st.Mode&0o020 != 0 {
			return fmt.Sprintf("writable by group %d (%s)", st.Gid, mode)
		}
		if st.Mode&0o002 != 0 {
			return fmt.Sprintf("world-writable (%s)", mode)
		}
	}
	return ""
}
