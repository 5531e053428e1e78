package health

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden output of testdata/scheduler/*.txt")

// TestSchedulerGolden runs the scenarios of testdata/scheduler: each file
// declares servers, drives the Scheduler (see runScript) and holds, after a
// "----" line, the actions it must emit. Review the diff after -rewrite.
//
//	server ID weight=N [inhibit] [omega] [up=CMD] [down=CMD] check=loop:D,dbr:D,retry:N[,alpha][,warmup:D][,timeout:D] ...
func TestSchedulerGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/scheduler/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(b), "----\n")
			if !ok {
				t.Fatal("no ---- line")
			}
			s := NewScheduler(fixedRand(1234 * int64(time.Millisecond)))
			var script []string
			for _, line := range strings.Split(input, "\n") {
				switch {
				case strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
				case strings.HasPrefix(line, "server "):
					spec, err := parseServerLine(line)
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Add(spec); err != nil {
						t.Fatal(err)
					}
				default:
					script = append(script, line)
				}
			}
			got := runScript(t, s, strings.Join(script, "\n"))
			if *rewrite {
				if err := os.WriteFile(file, []byte(input+"----\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func parseServerLine(line string) (ServerSpec, error) {
	f := strings.Fields(line)
	spec := ServerSpec{ID: ServerID(f[1])}
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "weight":
			spec.Weight, _ = strconv.Atoi(v)
		case "inhibit":
			spec.InhibitOnFailure = true
		case "omega":
			spec.Omega = true
		case "up":
			spec.NotifyUp = v
		case "down":
			spec.NotifyDown = v
		case "check":
			tm := Timing{Timeout: time.Second}
			for _, p := range strings.Split(v, ",") {
				pk, pv, _ := strings.Cut(p, ":")
				d, _ := time.ParseDuration(pv)
				switch pk {
				case "loop":
					tm.DelayLoop = d
				case "dbr":
					tm.DelayBeforeRetry = d
				case "retry":
					tm.Retry, _ = strconv.Atoi(pv)
				case "alpha":
					tm.Alpha = true
				case "warmup":
					tm.Warmup = d
				case "timeout":
					tm.Timeout = d
				default:
					return spec, &SpecError{Field: pk, Err: ErrBadSpec}
				}
			}
			spec.Checks = append(spec.Checks, tm)
		default:
			return spec, &SpecError{Field: k, Err: ErrBadSpec}
		}
	}
	return spec, nil
}
