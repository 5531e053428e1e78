package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// RaftTiming holds hashicorp/raft's timeouts. Directors sit on one or two
// LAN segments, so they are much shorter than raft's WAN-minded defaults:
// a dead leader is replaced in well under a second.
type RaftTiming struct {
	Heartbeat   time.Duration // follower → candidate after this without contact
	Election    time.Duration // candidate → new election
	LeaderLease time.Duration // leader steps down without quorum contact this long
	Commit      time.Duration
}

// fastRaft is the default RaftTiming.
var fastRaft = RaftTiming{
	Heartbeat:   400 * time.Millisecond,
	Election:    400 * time.Millisecond,
	LeaderLease: 200 * time.Millisecond,
	Commit:      20 * time.Millisecond,
}

func (t RaftTiming) orDefault() RaftTiming {
	pick := func(v, d time.Duration) time.Duration {
		if v == 0 {
			return d
		}
		return v
	}
	return RaftTiming{
		Heartbeat:   pick(t.Heartbeat, fastRaft.Heartbeat),
		Election:    pick(t.Election, fastRaft.Election),
		LeaderLease: pick(t.LeaderLease, fastRaft.LeaderLease),
		Commit:      pick(t.Commit, fastRaft.Commit),
	}
}

// stores are the durable parts of a Raft node in the data directory.
type stores struct {
	log   *raftboltdb.BoltStore // log and stable store in one file
	snaps raft.SnapshotStore
}

func openStores(dir string) (*stores, error) {
	if dir == "" {
		return nil, fmt.Errorf("agent: no data directory (cluster { data_dir PATH })")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: create data directory: %w", err)
	}
	bs, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("agent: open raft store in %s: %w", dir, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		bs.Close()
		return nil, fmt.Errorf("agent: open snapshot store in %s: %w", dir, err)
	}
	return &stores{log: bs, snaps: snaps}, nil
}

// lastIndex is the highest log index this node may have applied: the end
// of its log or of its newest snapshot, whichever is later (a node that
// caught up by installing a snapshot keeps a log that ends below it). The
// core never holds an epoch at or below it after a restart.
func (s *stores) lastIndex() (uint64, error) {
	last, err := s.log.LastIndex()
	if err != nil {
		return 0, fmt.Errorf("agent: read last log index: %w", err)
	}
	snaps, err := s.snaps.List()
	if err != nil {
		return 0, fmt.Errorf("agent: list snapshots: %w", err)
	}
	for _, m := range snaps {
		last = max(last, m.Index)
	}
	return last, nil
}

func (s *stores) close() {
	if err := s.log.Close(); err != nil {
		_ = err // nothing more to do on shutdown
	}
}

// startRaft creates the Raft node and bootstraps the cluster from Peers
// when the data directory holds no state yet (unless Join: then a member
// adds it). Every node bootstraps with
// the same configuration, which hashicorp/raft documents as safe; a
// restarted node rejoins with its own log.
func (a *Agent) startRaft() (*raft.Raft, error) {
	t := a.cfg.Raft.orDefault()
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(a.cfg.Node)
	rc.HeartbeatTimeout = t.Heartbeat
	rc.ElectionTimeout = t.Election
	rc.LeaderLeaseTimeout = t.LeaderLease
	rc.CommitTimeout = t.Commit
	rc.SnapshotThreshold = 1024
	rc.Logger = newHCLogger(a.log.With("component", "raft"))

	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  a.stream,
		MaxPool: 3,
		Timeout: time.Second,
		Logger:  rc.Logger,
	})
	has, err := raft.HasExistingState(a.stores.log, a.stores.log, a.stores.snaps)
	if err != nil {
		return nil, fmt.Errorf("agent: inspect raft state: %w", err)
	}
	if !has && a.cfg.Join {
		a.log.Info("empty data directory and --join: waiting to be added to the cluster (vigil members add " + a.cfg.Node + " on a member)")
	}
	if !has && !a.cfg.Join {
		var conf raft.Configuration
		for _, n := range a.peers.names() {
			conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(n), Address: raft.ServerAddress(n), Suffrage: raft.Voter})
		}
		if err := raft.BootstrapCluster(rc, a.stores.log, a.stores.log, a.stores.snaps, trans, conf); err != nil {
			return nil, fmt.Errorf("agent: bootstrap raft: %w", err)
		}
		a.log.Info("bootstrapped the cluster", "members", len(conf.Servers))
	}
	r, err := raft.NewRaft(rc, a.fsm, a.stores.log, a.stores.log, a.stores.snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("agent: start raft: %w", err)
	}
	r.RegisterObserver(raft.NewObserver(a.obs, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.RaftState, raft.LeaderObservation, raft.FailedHeartbeatObservation,
			raft.ResumedHeartbeatObservation, raft.PeerObservation:
			return true
		}
		return false
	}))
	return r, nil
}
