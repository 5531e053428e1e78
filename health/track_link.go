package health

import "fmt"

// LinkTrack is one track_interface entry.
type LinkTrack struct {
	Name    string // interface name
	Weight  int    // -253..253; 0 (default): fault while down
	Reverse bool
}

// LinkTrackerSpec is a director's track_interface block.
type LinkTrackerSpec struct {
	Links []LinkTrack
	// NetNS is the path of the network namespace to watch
	// (/run/netns/NAME); empty: ours.
	NetNS string
}

func (s LinkTrackerSpec) validate() error {
	if len(s.Links) == 0 {
		return fmt.Errorf("track_interface: no interface")
	}
	for _, l := range s.Links {
		if l.Name == "" {
			return fmt.Errorf("track_interface: empty interface name")
		}
		if l.Weight < -253 || l.Weight > 253 {
			return fmt.Errorf("track_interface %s: weight %d outside -253..253", l.Name, l.Weight)
		}
	}
	return nil
}

// linkStatus is the status of one tracked interface in a given state.
func linkStatus(l LinkTrack, up bool) TrackStatus {
	d, f := TrackDelta(up, l.Weight, l.Reverse)
	return TrackStatus{Name: l.Name, OK: up, Delta: d, Fault: f}
}
