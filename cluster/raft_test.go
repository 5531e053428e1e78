package cluster

// The replicated State under real hashicorp/raft: three in-process nodes on
// in-memory transports with raft-boltdb stores and file snapshots in
// t.TempDir(). It checks what the safety argument takes from Raft: a
// partitioned leader cannot complete a Barrier (the quorum round behind
// VerifyLeader), retried commands are harmless, state survives restarts
// and snapshots, and the log's last index at start bounds every epoch the
// node ever applied (the holder's Barrier).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

type testFSM struct {
	mu sync.Mutex
	s  *State
}

func (f *testFSM) Apply(l *raft.Log) any {
	var c Command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("decode entry %d: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.s.Apply(l.Index, c)
	return err
}

func (f *testFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.s)
	return jsonSnap(b), err
}

func (f *testFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s := NewState()
	if err := json.NewDecoder(rc).Decode(s); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
	return nil
}

func (f *testFSM) state() *State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s.Clone()
}

type jsonSnap []byte

func (s jsonSnap) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (jsonSnap) Release() {}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type rnode struct {
	id    string
	dir   string
	trans *raft.InmemTransport
	r     *raft.Raft
	fsm   *testFSM
	store *raftboltdb.BoltStore
}

type rcluster struct {
	t     *testing.T
	nodes []*rnode
}

func newRCluster(t *testing.T, n int) *rcluster {
	c := &rcluster{t: t}
	var servers []raft.Server
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		c.nodes = append(c.nodes, &rnode{id: id, dir: filepath.Join(t.TempDir(), id)})
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	for _, nd := range c.nodes {
		c.start(nd)
		if err := nd.r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatalf("bootstrap %s: %v", nd.id, err)
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			c.stop(nd)
		}
	})
	return c
}

func (c *rcluster) start(nd *rnode) {
	t := c.t
	if err := os.MkdirAll(nd.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(nd.dir, "raft.db")})
	if err != nil {
		t.Fatalf("%s: open bolt store: %v", nd.id, err)
	}
	snaps, err := raft.NewFileSnapshotStore(nd.dir, 2, io.Discard)
	if err != nil {
		t.Fatalf("%s: snapshot store: %v", nd.id, err)
	}
	_, nd.trans = raft.NewInmemTransport(raft.ServerAddress(nd.id))
	for _, o := range c.nodes {
		if o != nd && o.trans != nil && o.r != nil {
			nd.trans.Connect(raft.ServerAddress(o.id), o.trans)
			o.trans.Connect(raft.ServerAddress(nd.id), nd.trans)
		}
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(nd.id)
	conf.HeartbeatTimeout = 100 * time.Millisecond
	conf.ElectionTimeout = 100 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = 1 << 30 // snapshots only when the test asks
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: nd.id, Output: tWriter{t}, Level: hclog.Error})
	nd.fsm = &testFSM{s: NewState()}
	nd.store = store
	r, err := raft.NewRaft(conf, nd.fsm, store, store, snaps, nd.trans)
	if err != nil {
		t.Fatalf("%s: new raft: %v", nd.id, err)
	}
	nd.r = r
}

func (c *rcluster) stop(nd *rnode) {
	if nd.r == nil {
		return
	}
	if err := nd.r.Shutdown().Error(); err != nil {
		c.t.Errorf("%s: shutdown: %v", nd.id, err)
	}
	for _, o := range c.nodes {
		if o != nd && o.trans != nil {
			o.trans.Disconnect(raft.ServerAddress(nd.id))
		}
	}
	nd.trans.Close()
	nd.store.Close()
	nd.r = nil
}

// leader waits for exactly one leader among the running nodes in from.
func (c *rcluster) leader(from ...*rnode) *rnode {
	c.t.Helper()
	if len(from) == 0 {
		from = c.nodes
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ls []*rnode
		for _, nd := range from {
			if nd.r != nil && nd.r.State() == raft.Leader {
				ls = append(ls, nd)
			}
		}
		if len(ls) == 1 {
			return ls[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("no single leader among %d nodes", len(from))
	return nil
}

func (c *rcluster) apply(nd *rnode, cmd Command) (uint64, error) {
	c.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	f := nd.r.Apply(b, 2*time.Second)
	if err := f.Error(); err != nil {
		c.t.Fatalf("%s: apply %v: %v", nd.id, cmd, err)
	}
	if err, _ := f.Response().(error); err != nil {
		return f.Index(), err
	}
	return f.Index(), nil
}

// converge waits until every running node's FSM shows want for vi.
func (c *rcluster) converge(want Assignment) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		var got []string
		for _, nd := range c.nodes {
			if nd.r == nil {
				continue
			}
			a := nd.fsm.state().Instances["vi"]
			got = append(got, fmt.Sprintf("%s:%+v", nd.id, a))
			ok = ok && a == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("states did not converge to %+v: %v", want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *rcluster) isolate(nd *rnode) {
	for _, o := range c.nodes {
		if o != nd && o.r != nil {
			nd.trans.Disconnect(raft.ServerAddress(o.id))
			o.trans.Disconnect(raft.ServerAddress(nd.id))
		}
	}
}

func (c *rcluster) rejoin(nd *rnode) {
	for _, o := range c.nodes {
		if o != nd && o.r != nil {
			nd.trans.Connect(raft.ServerAddress(o.id), o.trans)
			o.trans.Connect(raft.ServerAddress(nd.id), nd.trans)
		}
	}
}

func others(all []*rnode, not *rnode) []*rnode {
	var out []*rnode
	for _, nd := range all {
		if nd != not {
			out = append(out, nd)
		}
	}
	return out
}

func TestRaftReplicatedState(t *testing.T) {
	if testing.Short() {
		t.Skip("real Raft cluster: skipped with -short")
	}
	before := runtime.NumGoroutine()
	t.Cleanup(func() { // runs after the cluster's cleanup: nothing may be left running
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left running after shutdown (had %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
	c := newRCluster(t, 3)
	l := c.leader()
	if err := l.r.Barrier(time.Second).Error(); err != nil {
		t.Fatalf("barrier on a healthy leader: %v", err)
	}

	// Assign, and retry the same write: the retry changes nothing.
	e1, err := c.apply(l, Command{Op: OpAssign, Instance: "vi", Node: "n1"})
	if err != nil {
		t.Fatalf("assign: %v", err)
	}
	if _, err := c.apply(l, Command{Op: OpAssign, Instance: "vi", Node: "n1"}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("retried assign: err %v, want ErrStaleEpoch", err)
	}
	c.converge(Assignment{Holder: "n1", Epoch: e1})

	// Partition the leader. It may still think it leads for a moment, but
	// it cannot finish a quorum round: it must never grant again.
	c.isolate(l)
	if err := l.r.Barrier(300 * time.Millisecond).Error(); err == nil {
		t.Fatal("an isolated leader completed a Barrier")
	}
	rest := others(c.nodes, l)
	l2 := c.leader(rest...)
	if err := l2.r.Barrier(time.Second).Error(); err != nil {
		t.Fatalf("barrier on the new leader: %v", err)
	}
	e2, err := c.apply(l2, Command{Op: OpAssign, Instance: "vi", Node: "n2", Epoch: e1})
	if err != nil {
		t.Fatalf("move on the majority side: %v", err)
	}
	if got := l.fsm.state().Instances["vi"]; got.Epoch != e1 {
		t.Fatalf("the isolated node saw %+v; it cannot have learnt the move", got)
	}
	c.rejoin(l)
	c.converge(Assignment{Holder: "n2", Epoch: e2})

	// Leadership transfer: the new leader commits (so it is ready) and the
	// holder acknowledges its release through it.
	cur := c.leader()
	if err := cur.r.LeadershipTransfer().Error(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	l3 := c.leader(others(c.nodes, cur)...)
	if err := l3.r.Barrier(time.Second).Error(); err != nil {
		t.Fatalf("barrier after transfer: %v", err)
	}
	if _, err := c.apply(l3, Command{Op: OpRelease, Instance: "vi", Node: "n2", Epoch: e2}); err != nil {
		t.Fatalf("release: %v", err)
	}
	c.converge(Assignment{Holder: "n2", Epoch: e2, Released: true})

	// Snapshot a follower, stop it, move on without it, restart it: it
	// restores the snapshot, replays the rest, and its log's last index at
	// start bounds every epoch it had applied.
	f := others(c.nodes, c.leader())[0]
	if err := f.r.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	applied := f.fsm.state().Index
	c.stop(f)
	l4 := c.leader(others(c.nodes, f)...)
	e3, err := c.apply(l4, Command{Op: OpAssign, Instance: "vi", Node: "n3", Epoch: e2})
	if err != nil {
		t.Fatalf("assign while a node is down: %v", err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(f.dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	last, err := store.LastIndex()
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if last < applied {
		t.Fatalf("log last index %d at restart is below the applied index %d: Barrier would be unsafe", last, applied)
	}
	c.start(f)
	c.converge(Assignment{Holder: "n3", Epoch: e3})

	// Kill and restart a node without a snapshot: it rejoins from its log.
	g := others(c.nodes, c.leader())[0]
	c.stop(g)
	c.start(g)
	c.converge(Assignment{Holder: "n3", Epoch: e3})
	if s := g.fsm.state(); s.Instances["vi"] != (Assignment{Holder: "n3", Epoch: e3}) {
		t.Fatalf("restarted node state %+v", s)
	}

	// A node that was down while the leader compacted its log catches up
	// by installing a snapshot: it learns of an epoch (assigned to it)
	// that its own log store never held. Its Barrier must therefore take
	// the snapshot's index into account, not just the log's last index.
	l5 := c.leader()
	h := others(c.nodes, l5)[0]
	c.stop(h)
	e4, err := c.apply(l5, Command{Op: OpAssign, Instance: "vi", Node: h.id, Epoch: e3})
	if err != nil {
		t.Fatalf("assign to the stopped node: %v", err)
	}
	for w := range 20 {
		if _, err := c.apply(l5, Command{Op: OpReport, Node: l5.id, Instance: "vi", Weight: w}); err != nil {
			t.Fatalf("report: %v", err)
		}
	}
	rc := l5.r.ReloadableConfig()
	rc.TrailingLogs = 0
	if err := l5.r.ReloadConfig(rc); err != nil {
		t.Fatalf("reload config: %v", err)
	}
	if err := l5.r.Snapshot().Error(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	c.start(h)
	c.converge(Assignment{Holder: h.id, Epoch: e4})
	c.stop(h)
	logLast, snapLast := durableIndexes(t, h.dir)
	if max(logLast, snapLast) < e4 {
		t.Fatalf("durable state covers index %d (log %d, snapshot %d), below the epoch %d the node applied", max(logLast, snapLast), logLast, snapLast, e4)
	}
	if logLast < e4 {
		t.Logf("log store ends at %d, snapshot at %d: the log alone would give an unsafe Barrier below epoch %d", logLast, snapLast, e4)
	}
	c.start(h)
	c.converge(Assignment{Holder: h.id, Epoch: e4})
}

// durableIndexes reads what a stopped node's durable Raft state covers.
func durableIndexes(t *testing.T, dir string) (logLast, snapLast uint64) {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if logLast, err = store.LastIndex(); err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) > 0 {
		snapLast = metas[0].Index
	}
	return logLast, snapLast
}
