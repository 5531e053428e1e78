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

func runDemo(keep bool, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the vigil binary: %w", err)
	}
	dir := filepath.Join(os.TempDir(), "vigil-demo")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The lab reports to a standalone T: a failure unwinds to Run, and
	// the lab is torn down unless --keep asked to leave a good one running.
	t := &netns.Standalone{}
	s := &story{out: stdout, start: time.Now(), exe: exe, dir: dir}
	err = t.Run(func() {
		s.build(t, keep)
		s.run()
	})
	if err != nil || !keep {
		t.Close()
	}
	if err != nil {
		return fmt.Errorf("demo failed: %w (the agents' logs are in %s)", err, dir)
	}
	if keep {
		s.printKeep()
	}
	return nil
}

func removeDemo() int { return netns.Remove(demoPrefix) }
