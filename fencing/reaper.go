package fencing

import "vigil/fencing/internal/proc"

// SetSubreaper makes this process a child subreaper (Linux
// PR_SET_CHILD_SUBREAPER), so that the background children of a hook or
// notify script, killed when their script ends or times out, are
// re-parented to this process and reaped by the runner instead of by PID 1.
//
// Without it those killed leftovers are reaped by PID 1, which is right
// under systemd. Call it only in a process where every other child is
// waited for: orphans of code that does not reap them (another package's
// scripts) would otherwise stay zombies of this process. Tests call it;
// the agent normally does not. Off Linux it returns an error.
func SetSubreaper() error { return proc.SetSubreaper() }
