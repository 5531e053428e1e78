package health

import (
	"fmt"
	"testing"
)

// alive reports whether pid is a live process (not gone, not a zombie).

// waitGone waits (bounded) for pid to stop being a live process: a killed

// process needs a moment to be torn down by the kernel.

// TestScriptTimeoutKillsTheGroup: a script that forks a sleeping child and

// then hangs is killed at the deadline with its child; nothing is left

// running and the script is reaped.

// TestScriptBackgroundChildKilledOnExit: a script that exits 0 leaving a

// background child behind does not leave it running.

// assertNoChildren fails if this test process has a child (a zombie or a

// running process) left.

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`/bin/check a b`, []string{"/bin/check", "a", "b"}},
		{`"/opt/my check" 'x y' z\ w`, []string{"/opt/my check", "x y", "z w"}},
		{`  a   ""  `, []string{"a", ""}},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`"open`, `trail\`} {
		if _, err := splitCommand(bad); err == nil {
			t.Errorf("splitCommand(%q) succeeded", bad)
		}
	}
}
