//go:build linux

package nft_test

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"vigil/lvs/nft"
	"vigil/test/netns"
)

var tmpN = 10000

func TestTmpPhases(t *testing.T) {
	lab := netns.New(t)
	h := lab.Host("lb")
	st := bigState(tmpN, 10)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dp := openDP(t, h, nft.Options{Logger: log})
	t0 := time.Now()
	if err := dp.Apply(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	t.Logf("apply %v ops %d", time.Since(t0), dp.KernelOps())
}
