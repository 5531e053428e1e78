package notify

import (
	"fmt"
	"time"

	"vigil/fencing"
)

// State is a VRRP instance (or group) state as keepalived names it.
type State int

// The states keepalived reports to notify scripts and FIFOs.
const (
	StateMaster State = iota + 1
	StateBackup
	StateFault
	StateStop
	StateDeleted
)

func (s State) String() string {
	switch s {
	case StateMaster:
		return "MASTER"
	case StateBackup:
		return "BACKUP"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	case StateDeleted:
		return "DELETED"
	}
	return "{UNKNOWN}" // keepalived's own rendering of an unknown state
}

// MarshalText renders the state as keepalived does ("MASTER", ...).
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses keepalived's state names.
func (s *State) UnmarshalText(b []byte) error {
	for v := StateMaster; v <= StateDeleted; v++ {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("notify: unknown state %q", b)
}

// Transition is a state change of a VRRP instance (or sync group).
type Transition struct {
	Group    bool   `json:"group,omitempty"` // a vrrp_sync_group, not an instance
	Name     string `json:"name"`
	State    State  `json:"state"`
	Priority int    `json:"priority"`        // effective priority; keepalived passes 0 for groups
	Epoch    uint64 `json:"epoch,omitempty"` // the assignment's fencing token, if any
}

// Type is "GROUP" or "INSTANCE", as keepalived passes it.
func (t Transition) Type() string {
	if t.Group {
		return "GROUP"
	}
	return "INSTANCE"
}

// FIFOLine renders t as keepalived writes it to notify_fifo and
// vrrp_notify_fifo: `INSTANCE "VI_1" MASTER 100` and a newline
// (keepalived vrrp_notify.c notify_fifo: "%s \"%s\" %s %d\n"; groups
// report priority 0).
func FIFOLine(t Transition) string {
	prio := t.Priority
	if t.Group {
		prio = 0
	}
	return fmt.Sprintf("%s \"%s\" %s %d\n", t.Type(), t.Name, t.State, prio)
}

// Notification is what the Dispatcher fans out: an alert raised or
// cleared (Alert.Resolved), or a state transition. Exactly one of Alert
// and Transition is set.
type Notification struct {
	Time       time.Time
	Alert      *fencing.Alert
	Transition *Transition
}

func (n Notification) String() string {
	switch {
	case n.Alert != nil:
		return "alert " + n.Alert.String()
	case n.Transition != nil:
		return "transition " + FIFOLine(*n.Transition)[:len(FIFOLine(*n.Transition))-1]
	}
	return "empty notification"
}
