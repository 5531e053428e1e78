package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"vigil/cluster"
)

// world is the test's view of who has each VIP on the wire. Every Hold is
// checked against it: no two nodes may hold one instance at once. A node
// that crashed keeps its address until the kernel lifetime (until + slack)
// runs out, as a real frozen director would.
type world struct {
	t     *testing.T
	slack time.Duration
	mu    sync.Mutex
	holds map[string]map[string]time.Time // instance → node → address valid until
}

func newWorld(t *testing.T, slack time.Duration) *world {
	return &world{t: t, slack: slack, holds: map[string]map[string]time.Time{}}
}

type worldExec struct {
	w    *world
	node string
}

func (e worldExec) Hold(inst string, epoch uint64, until time.Time) error {
	w := e.w
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for n, end := range w.holds[inst] {
		if n != e.node && now.Before(end) {
			w.t.Errorf("split brain: %s holds %s (epoch %d) while %s still has it for %v", e.node, inst, epoch, n, end.Sub(now))
		}
	}
	if w.holds[inst] == nil {
		w.holds[inst] = map[string]time.Time{}
	}
	w.holds[inst][e.node] = until.Add(w.slack)
	return nil
}

func (e worldExec) Release(inst string, epoch uint64, reason string) error {
	w := e.w
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.holds[inst], e.node)
	return nil
}

// holder returns the node holding inst now ("" for none).
func (w *world) holder(inst string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for n, end := range w.holds[inst] {
		if now.Before(end) {
			return n
		}
	}
	return ""
}

type testCluster struct {
	t      *testing.T
	w      *world
	peers  map[string][]string
	dirs   map[string]string
	rport  int
	mport  int
	specs  []cluster.InstanceSpec
	tls    map[string]TLSFiles // per node; nil: plain TCP
	key    []byte              // gossip_key: encrypted gossip, signed lease messages
	agents map[string]*Agent
	cancel map[string]context.CancelCauseFunc
	done   map[string]chan error
}

func newTestCluster(t *testing.T) *testCluster {
	base := 20000 + rand.IntN(20000)
	sub := 1 + rand.IntN(250)
	tc := &testCluster{
		t:      t,
		w:      newWorld(t, cluster.DefaultTiming().KernelSlack),
		peers:  map[string][]string{},
		dirs:   map[string]string{},
		rport:  base,
		mport:  base + 1,
		agents: map[string]*Agent{},
		cancel: map[string]context.CancelCauseFunc{},
		done:   map[string]chan error{},
		specs: []cluster.InstanceSpec{{
			Name: "VI_1", VRID: 51,
			Priority: map[string]int{"d1": 100, "d2": 99, "d3": 98},
		}},
	}
	for i, n := range []string{"d1", "d2", "d3"} {
		// Two links on loopback addresses of their own per node.
		tc.peers[n] = []string{fmt.Sprintf("127.%d.1.%d", sub, i+1), fmt.Sprintf("127.%d.2.%d", sub, i+1)}
		tc.dirs[n] = t.TempDir()
	}
	t.Cleanup(func() {
		for n := range tc.cancel {
			tc.stop(n)
		}
	})
	return tc
}

func (tc *testCluster) start(node string) {
	tc.t.Helper()
	a, err := New(Config{
		Cluster: "test", Node: node, Peers: tc.peers,
		RaftPort: tc.rport, MessagePort: tc.mport, GossipPort: tc.mport + 1,
		DataDir:   tc.dirs[node],
		Instances: tc.specs,
		Executor:  worldExec{tc.w, node},
		TLS:       tc.tlsFor(node),
		GossipKey: tc.key,
		Logger:    slog.New(slog.NewTextHandler(testWriter{tc.t, node}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		tc.t.Fatalf("start %s: %v", node, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tc.cancel[node], tc.done[node], tc.agents[node] = cancel, done, a
}

func (tc *testCluster) stop(node string) { tc.halt(node, nil) }

func (tc *testCluster) halt(node string, cause error) {
	if c, ok := tc.cancel[node]; ok {
		c(cause)
		select {
		case <-tc.done[node]:
		case <-time.After(10 * time.Second):
			tc.t.Errorf("agent %s did not stop within 10s", node)
		}
		delete(tc.cancel, node)
	}
}

// crash stops node as a kill -9 would: its address stays until the kernel
// lifetime runs out, and it releases nothing.
func (tc *testCluster) crash(node string) { tc.halt(node, errAbandon) }

func (tc *testCluster) waitHolder(inst string, want func(string) bool, within time.Duration) string {
	tc.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if h := tc.w.holder(inst); h != "" && want(h) {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	tc.t.Fatalf("no acceptable holder of %s within %v (now %q)", inst, within, tc.w.holder(inst))
	return ""
}

func (tc *testCluster) tlsFor(node string) *TLSFiles {
	if f, ok := tc.tls[node]; ok {
		return &f
	}
	return nil
}

// TestThreeAgentsOverTLS: the same cluster with mutual TLS on the Raft
// transport, encrypted gossip and signed lease messages elects, holds and
// fails over.
func TestThreeAgentsOverTLS(t *testing.T) {
	tc := newTestCluster(t)
	tc.tls = testCA(t, t.TempDir(), "cluster", "d1", "d2", "d3")
	tc.key = []byte("0123456789abcdef0123456789abcdef")
	for _, n := range []string{"d1", "d2", "d3"} {
		tc.start(n)
	}
	tc.waitHolder("VI_1", func(h string) bool { return h == "d1" }, 10*time.Second)
	tc.crash("d1")
	tc.waitHolder("VI_1", func(h string) bool { return h == "d2" }, 3*time.Second+cluster.DefaultTiming().MoveWait())
}

// logHas reports whether node's Raft log holds cmd.
func (tc *testCluster) logHas(node string, cmd cluster.Command) bool {
	st := tc.agents[node].stores.log
	first, _ := st.FirstIndex()
	last, _ := st.LastIndex()
	for i := first; i <= last && i > 0; i++ {
		var l raft.Log
		if st.GetLog(i, &l) != nil || l.Type != raft.LogCommand {
			continue
		}
		var c cluster.Command
		if json.Unmarshal(l.Data, &c) == nil && c == cmd {
			return true
		}
	}
	return false
}

type testWriter struct {
	t    *testing.T
	node string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.node, p)
	return len(p), nil
}

// TestThreeAgentsFailover runs three real agents (hashicorp/raft over TCP
// on two loopback links each, bolt stores in temporary directories) and
// checks on every Hold that no two nodes hold the VIP: the preferred node
// takes it, a crash of the holder moves it within the lease bound, the
// crashed node restarts from its data directory and takes it back without
// overlap.
func TestThreeAgentsFailover(t *testing.T) {
	tc := newTestCluster(t)
	for _, n := range []string{"d1", "d2", "d3"} {
		tc.start(n)
	}
	tc.waitHolder("VI_1", func(h string) bool { return h == "d1" }, 10*time.Second)

	tc.crash("d1")
	bound := 3*time.Second + cluster.DefaultTiming().MoveWait()
	h := tc.waitHolder("VI_1", func(h string) bool { return h != "d1" }, bound)
	if h != "d2" {
		t.Errorf("after d1 crashed, %s holds VI_1; want d2 (priority 99 > 98)", h)
	}

	tc.start("d1") // restart from its data directory
	tc.waitHolder("VI_1", func(h string) bool { return h == "d1" }, 10*time.Second)

	// A graceful stop releases and records the release in the log, so the
	// next holder takes over without waiting the lease out.
	epoch := tc.agents["d1"].Status().Holding["VI_1"]
	tc.stop("d1")
	tc.waitHolder("VI_1", func(h string) bool { return h == "d2" }, bound)
	if !tc.logHas("d2", cluster.Command{Op: cluster.OpRelease, Instance: "VI_1", Node: "d1", Epoch: epoch}) {
		t.Errorf("d1's graceful release of epoch %d is not in the log", epoch)
	}
}
