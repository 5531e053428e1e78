package health_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"vigil/health"
)

// checkerEnv makes the test binary a checker process: it runs the real
// driver on the servers described by the variable (JSON) and prints every
// state action on stdout. Started inside a director's namespace, its
// probes leave from there.
const checkerEnv = "VIGIL_HEALTH_CHECKER_HELPER"

type helperServer struct {
	ID     health.ServerID
	Weight int
	Specs  []health.CheckSpec
}

func checkerHelper(spec string) int {
	var servers []helperServer
	if err := json.Unmarshal([]byte(spec), &servers); err != nil {
		fmt.Println("bad spec:", err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	d := health.NewDriver(health.DriverConfig{OnAction: func(a health.Action) {
		if a.Kind == health.ActState {
			fmt.Fprintf(out, "%s %s reason=%q\n", time.Now().Format("15:04:05.000"), a, a.Reason)
			out.Flush()
		}
	}})
	for _, s := range servers {
		var cs []health.Checker
		var ts []health.Timing
		for _, sp := range s.Specs {
			c, err := health.New(sp)
			if err != nil {
				fmt.Println("New:", err)
				return 2
			}
			cs = append(cs, c)
			ts = append(ts, sp.Resolved())
		}
		if err := d.Add(health.ServerSpec{ID: s.ID, Weight: s.Weight, Checks: ts}, cs); err != nil {
			fmt.Println("Add:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	_ = d.Run(ctx)
	return 0
}
