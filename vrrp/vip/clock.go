package vip

import "time"

// Clock is the time source of the Manager and the Announcer. Decisions take
// the instant as an argument (see Schedule and Plan); only the driver loops
// read a Clock, so tests inject a fake one (viptest.Clock) and step it.
type Clock interface {
	// Now returns the current instant. Only differences between instants
	// matter, so a monotonic reading is all that is needed.
	Now() time.Time
	// NewTimer returns a timer that fires once, d after now.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	// C delivers the instant the timer fired.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// SystemClock is the real clock (time.Now, time.NewTimer).
type SystemClock struct{}

// Now returns time.Now() (with its monotonic reading).
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
