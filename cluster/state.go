package cluster

import (
	"errors"
	"fmt"
	"maps"
)

// Assignment is the replicated ownership of one instance.
type Assignment struct {
	// Holder is the node that may hold the VIP under a lease; "" for none.
	Holder string `json:"holder,omitempty"`
	// Epoch is the Raft index of the entry that made this assignment: the
	// fencing token passed to hooks and logs. 0 means never assigned.
	Epoch uint64 `json:"epoch,omitempty"`
	// Released is set once the holder acknowledged (through the log) that
	// it gave up this epoch and will never hold it again.
	Released bool `json:"released,omitempty"`
	// Pinned is the node an operator handed the instance to (vigil
	// transfer). While it is eligible it wins the decision over priority,
	// stickiness and nopreempt. Assigning the instance to any other node
	// clears it, so a pin never pulls a VIP back after a failure.
	Pinned string `json:"pinned,omitempty"`
	// Def is the instance's definition (InstanceSpec.Def) the assignment
	// was made under.
	Def string `json:"def,omitempty"`
	// PinID is the request ID of the last OpTransfer applied to the
	// instance, kept across assignments: the operator's write waits for
	// it, not for a pin value a stale replica may show by chance.
	PinID string `json:"pin_id,omitempty"`
}

// Live reports whether the assignment names a holder that has not released.
func (a Assignment) Live() bool { return a.Holder != "" && !a.Released }

// NodeReport is what a node reported about itself through the log.
type NodeReport struct {
	// Instances holds the node's tracker report per instance (keepalived
	// applies track_script, track_interface and track_file per
	// vrrp_instance, each reference with its own weight). An instance
	// without an entry has weight 0 and no fault. Apply replaces the map
	// rather than writing into it, so a NodeReport value (and a shallow
	// Clone) never changes under its holder.
	Instances map[string]InstanceReport `json:"instances,omitempty"`
	// Drained is set by an operator (vigil drain): the node is ineligible.
	Drained bool `json:"drained,omitempty"`
	// DrainID is the request ID of the last OpDrain applied to the node
	// (see Assignment.PinID).
	DrainID string `json:"drain_id,omitempty"`
}

// InstanceReport is a node's trackers' effect on one instance.
type InstanceReport struct {
	// Weight is the sum of the instance's tracker weights (added to the
	// node's configured priority for the instance).
	Weight int `json:"weight,omitempty"`
	// Fault is set while a weight-0 tracker fails: the node is not
	// eligible for the instance.
	Fault bool `json:"fault,omitempty"`
}

// Op is the kind of a Command.
type Op uint8

// The commands of the replicated state machine.
const (
	// OpAssign sets Instance's holder to Node ("" for none), under the
	// instance definition Def, if the current epoch is still Epoch
	// (compare-and-set, so a retried assignment is a no-op). The new epoch
	// is the entry's index.
	OpAssign Op = iota + 1
	// OpRelease records that Node released Instance at Epoch.
	OpRelease
	// OpReport sets Node's tracker weight and fault flag for Instance.
	OpReport
	// OpDrain sets Node's drain flag.
	OpDrain
	// OpHealth records Node's verdict on real server Server (a health
	// checker transition; never individual probes): Up, and with Dynamic
	// the weight a MISC_CHECK with misc_dynamic set (Weight; only while
	// up). Last writer wins per node and server; the committed verdict and
	// weight are agreed from all nodes'.
	OpHealth
	// OpConfig replaces the cluster's configuration with Text (the whole
	// keepalived.conf, includes expanded). Its version is the entry's
	// index. The same text again changes nothing. With Initial set it only
	// sets the first configuration: once the cluster has one, it changes
	// nothing (a leader that has not replayed the log yet may believe
	// there is none, and must not overwrite an acknowledged change).
	OpConfig
	// OpTransfer pins Instance to Node ("" clears the pin): the leader hands
	// the instance over to Node in a planned move (the holder releases,
	// then Node takes over) and keeps it there while Node is eligible.
	OpTransfer
)

func (o Op) String() string {
	switch o {
	case OpAssign:
		return "assign"
	case OpRelease:
		return "release"
	case OpReport:
		return "report"
	case OpDrain:
		return "drain"
	case OpHealth:
		return "health"
	case OpConfig:
		return "config"
	case OpTransfer:
		return "transfer"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Command is one replicated write. Every command is idempotent: applying
// it twice (a retried write) leaves the same state as applying it once.
type Command struct {
	Op       Op     `json:"op"`
	Instance string `json:"instance,omitempty"`
	Node     string `json:"node,omitempty"`
	Epoch    uint64 `json:"epoch,omitempty"`
	Weight   int    `json:"weight,omitempty"`
	Fault    bool   `json:"fault,omitempty"`
	Drained  bool   `json:"drained,omitempty"`
	Server   string `json:"server,omitempty"`
	Up       bool   `json:"up,omitempty"`
	Dynamic  bool   `json:"dynamic,omitempty"`
	Text     string `json:"text,omitempty"`
	Initial  bool   `json:"initial,omitempty"`
	Def      string `json:"def,omitempty"`
	// ID identifies an operator's write (OpDrain, OpTransfer, OpConfig)
	// across its retries: the state records the last one applied, so the
	// operator learns that this very write committed. Base is the ID the
	// writer's replica showed when it (re)sent the write: the write
	// applies only if it is still the last one (compare-and-set, as
	// OpAssign's epoch), so a copy delayed past a later write is refused
	// instead of undoing it. Commands without ID apply unconditionally.
	ID   string `json:"id,omitempty"`
	Base string `json:"base,omitempty"`
}

// casWrite checks an operator write against the ID of the last write
// applied: done when this one already was, an error when another came
// since its writer looked.
func casWrite(c Command, last string) (done bool, err error) {
	if c.ID == "" {
		return false, nil
	}
	if last == c.ID {
		return true, nil
	}
	if c.Base != last {
		return false, fmt.Errorf("cluster: apply %v: %w: the last write is %q, not %q", c, ErrStaleWrite, last, c.Base)
	}
	return false, nil
}

func (c Command) String() string {
	switch c.Op {
	case OpAssign:
		if c.Def != "" {
			return fmt.Sprintf("assign %s to %q if epoch %d, definition %s", c.Instance, c.Node, c.Epoch, c.Def)
		}
		return fmt.Sprintf("assign %s to %q if epoch %d", c.Instance, c.Node, c.Epoch)
	case OpRelease:
		return fmt.Sprintf("release %s by %s epoch %d", c.Instance, c.Node, c.Epoch)
	case OpReport:
		return fmt.Sprintf("report %s on %s weight %d fault %t", c.Node, c.Instance, c.Weight, c.Fault)
	case OpDrain:
		return fmt.Sprintf("drain %s %t", c.Node, c.Drained)
	case OpHealth:
		if c.Dynamic {
			return fmt.Sprintf("health %s sees %s up %t weight %d", c.Node, c.Server, c.Up, c.Weight)
		}
		return fmt.Sprintf("health %s sees %s up %t", c.Node, c.Server, c.Up)
	case OpConfig:
		if c.Initial {
			return fmt.Sprintf("initial config (%d bytes)", len(c.Text))
		}
		return fmt.Sprintf("config (%d bytes)", len(c.Text))
	case OpTransfer:
		return fmt.Sprintf("transfer %s to %q", c.Instance, c.Node)
	}
	return c.Op.String()
}

// Errors returned by State.Apply. A rejected command changes nothing.
var (
	ErrStaleEpoch = errors.New("stale epoch")
	ErrNotHolder  = errors.New("not the holder of that epoch")
	ErrBadCommand = errors.New("bad command")
	ErrStaleWrite = errors.New("stale write: another write came first")
)

// State is the replicated data of the state machine. Apply is a pure
// function of the state and the entry, so every replica that applies the
// same log holds the same State.
type State struct {
	// Index is the last applied log index.
	Index     uint64                `json:"index"`
	Instances map[string]Assignment `json:"instances"`
	Nodes     map[string]NodeReport `json:"nodes"`
	// Health holds each node's last reported verdict per real server:
	// server → node → up.
	Health map[string]map[string]bool `json:"health,omitempty"`
	// Weights holds each node's last reported misc_dynamic weight per real
	// server, for the nodes reporting it up with one: server → node →
	// weight. A node without an entry gives the configured weight.
	Weights map[string]map[string]int `json:"weights,omitempty"`
	// Config is the cluster's configuration: every director runs it.
	Config ConfigEntry `json:"config,omitzero"`
}

// ConfigEntry is the replicated configuration.
type ConfigEntry struct {
	// Version is the Raft index of the entry that set it; 0: none yet.
	Version uint64 `json:"version"`
	Text    string `json:"text"`
	// ID is the request ID of the last OpConfig applied (see Command.ID).
	ID string `json:"id,omitempty"`
}

// NewState returns an empty state.
func NewState() *State {
	return &State{Instances: map[string]Assignment{}, Nodes: map[string]NodeReport{}}
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := &State{Index: s.Index, Instances: maps.Clone(s.Instances), Nodes: maps.Clone(s.Nodes), Config: s.Config}
	c.Health = cloneNested(s.Health)
	c.Weights = cloneNested(s.Weights)
	return c
}

func cloneNested[V any](m map[string]map[string]V) map[string]map[string]V {
	if m == nil {
		return nil
	}
	c := make(map[string]map[string]V, len(m))
	for k, v := range m {
		c[k] = maps.Clone(v)
	}
	return c
}

// Apply applies the command of log entry index. Entries at or below the
// last applied index are ignored (replay after a restore is harmless). It
// returns whether the state changed and, for a rejected command, why.
func (s *State) Apply(index uint64, c Command) (bool, error) {
	if index <= s.Index {
		return false, nil
	}
	s.Index = index
	switch c.Op {
	case OpAssign:
		if c.Instance == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: no instance", c, ErrBadCommand)
		}
		cur := s.Instances[c.Instance]
		if cur.Epoch != c.Epoch {
			return false, fmt.Errorf("cluster: apply %v: %w: epoch is %d", c, ErrStaleEpoch, cur.Epoch)
		}
		next := Assignment{Holder: c.Node, Epoch: index, Def: c.Def, PinID: cur.PinID}
		if cur.Pinned == c.Node {
			next.Pinned = cur.Pinned // the pinned node took it: keep it there
		}
		s.Instances[c.Instance] = next
		return true, nil
	case OpTransfer:
		if c.Instance == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: no instance", c, ErrBadCommand)
		}
		cur := s.Instances[c.Instance]
		if done, err := casWrite(c, cur.PinID); done || err != nil {
			return false, err
		}
		if cur.Pinned == c.Node && cur.PinID == c.ID {
			return false, nil
		}
		cur.Pinned, cur.PinID = c.Node, c.ID
		s.Instances[c.Instance] = cur
		return true, nil
	case OpRelease:
		cur := s.Instances[c.Instance]
		if cur.Holder != c.Node || cur.Epoch != c.Epoch || c.Node == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: holder %q epoch %d", c, ErrNotHolder, cur.Holder, cur.Epoch)
		}
		if cur.Released {
			return false, nil
		}
		cur.Released = true
		s.Instances[c.Instance] = cur
		return true, nil
	case OpReport:
		if c.Node == "" || c.Instance == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: no node or instance", c, ErrBadCommand)
		}
		r := s.Nodes[c.Node]
		want := InstanceReport{Weight: c.Weight, Fault: c.Fault}
		if r.Instances[c.Instance] == want {
			return false, nil
		}
		ins := maps.Clone(r.Instances) // never write into a map a clone may share
		if ins == nil {
			ins = map[string]InstanceReport{}
		}
		ins[c.Instance] = want
		if want == (InstanceReport{}) {
			delete(ins, c.Instance) // the zero report is the default: keep the state small
		}
		if len(ins) == 0 {
			ins = nil
		}
		r.Instances = ins
		s.Nodes[c.Node] = r
		return true, nil
	case OpDrain:
		if c.Node == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: no node", c, ErrBadCommand)
		}
		r := s.Nodes[c.Node]
		if done, err := casWrite(c, r.DrainID); done || err != nil {
			return false, err
		}
		if r.Drained == c.Drained && r.DrainID == c.ID {
			return false, nil
		}
		r.Drained, r.DrainID = c.Drained, c.ID
		s.Nodes[c.Node] = r
		return true, nil
	case OpConfig:
		if c.Text == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: empty configuration", c, ErrBadCommand)
		}
		if c.Initial && s.Config.Version != 0 {
			return false, nil
		}
		if done, err := casWrite(c, s.Config.ID); done || err != nil {
			return false, err
		}
		if s.Config.Text == c.Text {
			if s.Config.ID == c.ID {
				return false, nil
			}
			s.Config.ID = c.ID // the same text again: no new version
			return true, nil
		}
		s.Config = ConfigEntry{Version: index, Text: c.Text, ID: c.ID}
		return true, nil
	case OpHealth:
		if c.Node == "" || c.Server == "" {
			return false, fmt.Errorf("cluster: apply %v: %w: no node or server", c, ErrBadCommand)
		}
		dyn := c.Dynamic && c.Up // a weight means nothing while down
		w, hasW := s.Weights[c.Server][c.Node]
		if up, ok := s.Health[c.Server][c.Node]; ok && up == c.Up && hasW == dyn && (!dyn || w == c.Weight) {
			return false, nil
		}
		setNested(&s.Health, c.Server, c.Node, c.Up)
		if dyn {
			setNested(&s.Weights, c.Server, c.Node, c.Weight)
		} else if hasW {
			delete(s.Weights[c.Server], c.Node)
			if len(s.Weights[c.Server]) == 0 {
				delete(s.Weights, c.Server)
			}
			if len(s.Weights) == 0 {
				s.Weights = nil // as a JSON snapshot restores it
			}
		}
		return true, nil
	}
	return false, fmt.Errorf("cluster: apply %v: %w", c, ErrBadCommand)
}

// setNested sets (*m)[k1][k2] = v, making the maps it needs.
func setNested[V any](m *map[string]map[string]V, k1, k2 string, v V) {
	if *m == nil {
		*m = map[string]map[string]V{}
	}
	r := (*m)[k1]
	if r == nil {
		r = map[string]V{}
		(*m)[k1] = r
	}
	r[k2] = v
}
