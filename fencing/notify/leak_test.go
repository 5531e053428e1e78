package notify

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// frameFile matches the file of a stack frame in this package.
var frameFile = regexp.MustCompile(`/fencing/notify/([a-z_]+\.go):`)

// inShippedCode reports whether a goroutine's stack runs through a
// non-test file of this package.
func inShippedCode(stack string) bool {
	for _, m := range frameFile.FindAllStringSubmatch(stack, -1) {
		if !strings.HasSuffix(m[1], "_test.go") {
			return true
		}
	}
	return false
}

// checkNoLeaks fails the test if, once it and its cleanups are done, a
// goroutine of this package is still running (every Dispatcher, Notifier
// and FIFO goroutine must end at Close).
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		var left []string
		for i := 0; i < 500; i++ {
			left = left[:0]
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			for _, g := range strings.Split(string(buf), "\n\n") {
				if inShippedCode(g) {
					left = append(left, g)
				}
			}
			if len(left) == 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("%d goroutine(s) leaked:\n%s", len(left), strings.Join(left, "\n\n"))
	})
}
