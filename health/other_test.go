//go:build !linux

package health

import (
	"context"
	"errors"
	"testing"
)

// Off Linux, scripts and interface tracking are unimplemented and say so.
func TestUnimplementedOffLinux(t *testing.T) {
	s := &Script{args: []string{"/bin/true"}}
	if st := s.Run(context.Background()); !errors.Is(st.Err, errUnimplemented) {
		t.Errorf("Script.Run: %v, want errUnimplemented", st.Err)
	}
	lt, err := NewLinkTracker(LinkTrackerSpec{Links: []LinkTrack{{Name: "eth0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := lt.Run(context.Background(), func(TrackStatus) {}); !errors.Is(err, errLinkUnimplemented) {
		t.Errorf("LinkTracker.Run: %v, want errLinkUnimplemented", err)
	}
	if why := unsafePath("/bin/true"); why == "" {
		t.Error("script security passes unchecked off Linux")
	}
}
