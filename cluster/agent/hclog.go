package agent

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger adapts hashicorp/raft's hclog interface to the injected
// slog.Logger, so Raft logs where the agent logs, with the same levels.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Info,
		Output:     hclogWriter{l},
		JSONFormat: false,
		// Only the message and key/values matter: slog adds time and level.
		DisableTime: true,
	})
}

// hclogWriter turns one formatted hclog line into a slog record.
type hclogWriter struct{ l *slog.Logger }

func (w hclogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, lv := range hclogLevels {
		if strings.HasPrefix(line, prefix) {
			level = lv
			line = strings.TrimSpace(strings.TrimPrefix(line, prefix))
			break
		}
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}

var hclogLevels = map[string]slog.Level{
	"[TRACE]": slog.LevelDebug - 4,
	"[DEBUG]": slog.LevelDebug,
	"[INFO]":  slog.LevelInfo,
	"[WARN]":  slog.LevelWarn,
	"[ERROR]": slog.LevelError,
}

var _ io.Writer = hclogWriter{}
