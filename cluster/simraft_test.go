package cluster

// The simulation's model of Raft: terms, majority elections with the
// log up-to-date rule, at most one leader per term, AppendEntries with the
// consistency check, commit by a majority of the current term, followers
// applying committed entries, and a quorum verification round in the
// leader's term. A leader loses leadership lazily: only when it hears of a
// higher term. Durable: term, vote and log; everything else is volatile.

import (
	"math/bits"
)

const (
	roleFollower = iota
	roleCandidate
	roleLeader
)

type simEntry struct {
	term uint64
	cmd  *Command // nil: the leader's no-op
}

const (
	mVote uint8 = iota + 1
	mVoteResp
	mAppend
	mAppendResp
	mVerify
	mVerifyResp
	mForward
	mLeaseReq
	mGrant
	mRelReq
	mFenced // the driver's own fence-peer hook answering, never on the network
)

type simMsg struct {
	kind     uint8
	from, to int
	term     uint64
	// vote
	lastIdx, lastTerm uint64
	// append / responses
	prevIdx, prevTerm uint64
	entries           []simEntry
	commit            uint64
	ok                bool
	match             uint64
	// verify
	round uint64
	// forward
	cmd Command
	// lease messages (and the fence answer: from = fenced node, ok)
	inst  string
	epoch uint64
	id    RequestID
}

func (n *simNode) lastIdx() uint64 { return uint64(len(n.log)) }

func (n *simNode) termAt(i uint64) uint64 {
	if i == 0 || i > uint64(len(n.log)) {
		return 0
	}
	return n.log[i-1].term
}

func (n *simNode) majority() int { return len(n.w.nodes)/2 + 1 }

func (n *simNode) resetElection() {
	et := n.w.p.electionTimeout
	n.raftAt = n.nowL + et + n.w.rng.Int64N(et)
}

// stepDown adopts term (if higher) and becomes a follower.
func (n *simNode) stepDown(term uint64) {
	changed := false
	if term > n.term {
		n.term, n.votedFor = term, -1
		changed = true
	}
	if n.role == roleLeader {
		changed = true
		if n.verActive {
			n.verActive = false
			n.core.Step(n.t(), Verified{Round: n.verRound, OK: false})
		}
	}
	if n.role != roleFollower {
		n.role = roleFollower
		n.resetElection()
	}
	if changed {
		n.leader = -1
		n.w.tracef(n, "follower term=%d", n.term)
		n.core.Step(n.t(), Leadership{Leader: false, Term: n.term})
	}
}

func (n *simNode) raftTimer() {
	if n.role == roleLeader {
		n.heartbeat()
		n.raftAt = n.nowL + n.w.p.heartbeat
		return
	}
	// Election timeout: stand as candidate.
	n.term++
	n.votedFor = n.id
	n.role = roleCandidate
	n.leader = -1
	n.votes = 1 << n.id
	n.core.Step(n.t(), Leadership{Leader: false, Term: n.term})
	n.resetElection()
	for i := range n.w.nodes {
		if i != n.id {
			n.w.send(&simMsg{kind: mVote, from: n.id, to: i, term: n.term, lastIdx: n.lastIdx(), lastTerm: n.termAt(n.lastIdx())})
		}
	}
}

func (n *simNode) becomeLeader() {
	n.role, n.leader = roleLeader, n.id
	for i := range n.w.nodes {
		n.next[i], n.match[i], n.reach[i] = n.lastIdx()+1, 0, false
	}
	n.log = append(n.log, simEntry{term: n.term})
	n.noopIdx = n.lastIdx()
	n.match[n.id] = n.lastIdx()
	n.readySent = false
	n.w.tracef(n, "LEADER term=%d", n.term)
	n.core.Step(n.t(), Leadership{Leader: true, Term: n.term})
	n.heartbeat()
	n.raftAt = n.nowL + n.w.p.heartbeat
}

func (n *simNode) heartbeat() {
	for i := range n.w.nodes {
		if i == n.id {
			continue
		}
		up := n.lastAck[i] != 0 && n.nowL-n.lastAck[i] < 3*n.w.p.heartbeat
		if up != n.reach[i] {
			n.reach[i] = up
			n.core.Step(n.t(), Reachable{Node: n.w.nodes[i].name, Up: up})
		}
		n.sendAppend(i)
	}
}

func (n *simNode) sendAppend(i int) {
	prev := n.next[i] - 1
	var ents []simEntry
	if last := n.lastIdx(); last > prev {
		end := min(last, prev+16)
		ents = append([]simEntry(nil), n.log[prev:end]...)
	}
	n.w.send(&simMsg{kind: mAppend, from: n.id, to: i, term: n.term, prevIdx: prev, prevTerm: n.termAt(prev), entries: ents, commit: n.commit})
}

func (n *simNode) appendCmd(c Command) {
	n.log = append(n.log, simEntry{term: n.term, cmd: &c})
	n.match[n.id] = n.lastIdx()
	for i := range n.w.nodes {
		if i != n.id {
			n.sendAppend(i)
		}
	}
}

func (n *simNode) propose(c Command) {
	switch {
	case n.role == roleLeader:
		n.appendCmd(c)
	case n.leader >= 0:
		n.w.send(&simMsg{kind: mForward, from: n.id, to: n.leader, cmd: c})
	}
}

func (n *simNode) advanceCommit() {
	for idx := n.lastIdx(); idx > n.commit; idx-- {
		if n.termAt(idx) != n.term {
			break
		}
		c := 0
		for i := range n.w.nodes {
			if n.match[i] >= idx {
				c++
			}
		}
		if c >= n.majority() {
			n.commit = idx
			break
		}
	}
	n.apply()
}

func (n *simNode) apply() {
	changed := false
	for n.applied < n.commit {
		n.applied++
		if e := n.log[n.applied-1]; e.cmd != nil {
			ch, _ := n.fsm.Apply(n.applied, *e.cmd)
			changed = changed || ch
		}
	}
	if changed {
		n.followConfig()
		n.core.Step(n.t(), Committed{State: n.fsm.Clone()})
	}
	if n.role == roleLeader && !n.readySent && n.applied >= n.noopIdx {
		n.readySent = true
		n.core.Step(n.t(), LeaderReady{Term: n.term})
	}
}

func (n *simNode) startVerify(v VerifyLeader) {
	if n.role != roleLeader || v.Term != n.term {
		n.core.Step(n.t(), Verified{Round: v.Round, OK: false})
		return
	}
	if n.verActive {
		// The core runs one round at a time; a new one supersedes.
		n.verActive = false
	}
	n.verActive, n.verRound, n.verAcks = true, v.Round, 1<<n.id
	for i := range n.w.nodes {
		if i != n.id {
			n.w.send(&simMsg{kind: mVerify, from: n.id, to: i, term: n.term, round: v.Round})
		}
	}
}

func (n *simNode) handleRaft(m *simMsg) {
	if m.term > n.term {
		n.stepDown(m.term)
	}
	switch m.kind {
	case mVote:
		upToDate := m.lastTerm > n.termAt(n.lastIdx()) || (m.lastTerm == n.termAt(n.lastIdx()) && m.lastIdx >= n.lastIdx())
		grant := m.term == n.term && (n.votedFor == -1 || n.votedFor == m.from) && upToDate
		if grant {
			n.votedFor = m.from
			n.resetElection()
		}
		n.w.send(&simMsg{kind: mVoteResp, from: n.id, to: m.from, term: n.term, ok: grant})
	case mVoteResp:
		if n.role == roleCandidate && m.term == n.term && m.ok {
			n.votes |= 1 << m.from
			if bits.OnesCount64(n.votes) >= n.majority() {
				n.becomeLeader()
			}
		}
	case mAppend:
		if m.term < n.term {
			n.w.send(&simMsg{kind: mAppendResp, from: n.id, to: m.from, term: n.term})
			return
		}
		if n.role != roleFollower {
			n.stepDown(m.term)
		}
		n.leader = m.from
		n.resetElection()
		if m.prevIdx > n.lastIdx() || n.termAt(m.prevIdx) != m.prevTerm {
			n.w.send(&simMsg{kind: mAppendResp, from: n.id, to: m.from, term: n.term, match: min(n.lastIdx(), m.prevIdx-1)})
			return
		}
		for k, e := range m.entries {
			idx := m.prevIdx + 1 + uint64(k)
			if idx <= n.lastIdx() && n.termAt(idx) != e.term {
				n.log = n.log[:idx-1]
			}
			if idx > n.lastIdx() {
				n.log = append(n.log, e)
			}
		}
		last := m.prevIdx + uint64(len(m.entries))
		if c := min(m.commit, last); c > n.commit {
			n.commit = c
			n.apply()
		}
		n.w.send(&simMsg{kind: mAppendResp, from: n.id, to: m.from, term: n.term, ok: true, match: last})
	case mAppendResp:
		if n.role != roleLeader || m.term != n.term {
			return
		}
		n.lastAck[m.from] = n.nowL
		if m.ok {
			if m.match > n.match[m.from] {
				n.match[m.from] = m.match
			}
			n.next[m.from] = n.match[m.from] + 1
			n.advanceCommit()
			if n.next[m.from] <= n.lastIdx() {
				n.sendAppend(m.from)
			}
		} else {
			n.next[m.from] = max(1, min(n.next[m.from]-1, m.match+1))
			n.sendAppend(m.from)
		}
	case mVerify:
		ok := m.term == n.term
		if ok {
			if n.role != roleFollower {
				n.stepDown(m.term)
			}
			n.leader = m.from
			n.resetElection()
		}
		n.w.send(&simMsg{kind: mVerifyResp, from: n.id, to: m.from, term: n.term, round: m.round, ok: ok})
	case mVerifyResp:
		if n.role != roleLeader || !n.verActive || m.term != n.term || m.round != n.verRound || !m.ok {
			return
		}
		n.lastAck[m.from] = n.nowL
		n.verAcks |= 1 << m.from
		if bits.OnesCount64(n.verAcks) >= n.majority() {
			n.verActive = false
			n.core.Step(n.t(), Verified{Round: m.round, OK: true})
		}
	case mForward:
		if n.role == roleLeader {
			n.appendCmd(m.cmd)
		}
	}
}
