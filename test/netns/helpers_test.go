package netns_test

import "os/exec"

func runIP(args ...string) (string, error) { return runCmd("ip", args...) }

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
