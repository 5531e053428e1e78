package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"vigil/test/netns"
)

const demoPrefix = "vigdemo"

// demoT lets the namespace lab report to the demo instead of a test: a
// fatal error unwinds to runDemo, which cleans up and returns it.
type demoT struct {
	cleanups []func()
}

type demoFailure struct{ msg string }

func (*demoT) Helper()                           {}
func (*demoT) Logf(string, ...any)               {}
func (*demoT) Fatalf(format string, args ...any) { panic(demoFailure{fmt.Sprintf(format, args...)}) }
func (*demoT) Skip(args ...any)                  { panic(demoFailure{fmt.Sprint(args...)}) }
func (t *demoT) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }

func (t *demoT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

func runDemo(keep bool, stdout io.Writer) (err error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the vigil binary: %w", err)
	}
	dir := filepath.Join(os.TempDir(), "vigil-demo")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	t := &demoT{}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(demoFailure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("demo failed: %s (the agents' logs are in %s)", f.msg, dir)
		}
		if err != nil || !keep {
			t.cleanup()
		}
	}()
	s := &story{out: stdout, start: time.Now(), exe: exe, dir: dir}
	s.build(t, keep)
	s.run()
	if keep {
		s.printKeep()
	}
	return nil
}

func removeDemo() int { return netns.Remove(demoPrefix) }
