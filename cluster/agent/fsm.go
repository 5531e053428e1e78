package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"vigil/cluster"
)

// fsm is the replicated state machine: cluster.State driven by the log.
// Every applied entry hands a copy of the new state to the driver loop
// through notify (latest wins: the loop only needs the newest state).
type fsm struct {
	mu     sync.Mutex
	state  *cluster.State
	notify chan *cluster.State
}

func newFSM() *fsm {
	return &fsm{state: cluster.NewState(), notify: make(chan *cluster.State, 1)}
}

// Apply decodes one command and applies it at the entry's index. A
// rejected command (stale epoch, not the holder) is the normal fate of a
// retried or raced write and changes nothing; its error is the Apply
// future's response.
func (f *fsm) Apply(l *raft.Log) any {
	var c cluster.Command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return fmt.Errorf("agent: decode command at index %d: %w", l.Index, err)
	}
	f.mu.Lock()
	_, err := f.state.Apply(l.Index, c)
	s := f.state.Clone()
	f.mu.Unlock()
	f.publish(s)
	return err
}

func (f *fsm) publish(s *cluster.State) { latest(f.notify, s) }

// current returns a copy of the applied state.
func (f *fsm) current() *cluster.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Clone()
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return snapshot{f.current()}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s := cluster.NewState()
	if err := json.NewDecoder(rc).Decode(s); err != nil {
		return fmt.Errorf("agent: restore snapshot: %w", err)
	}
	if s.Instances == nil {
		s.Instances = map[string]cluster.Assignment{}
	}
	if s.Nodes == nil {
		s.Nodes = map[string]cluster.NodeReport{}
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	f.publish(s.Clone())
	return nil
}

type snapshot struct{ s *cluster.State }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.s); err != nil {
		sink.Cancel()
		return fmt.Errorf("agent: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
