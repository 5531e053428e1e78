package vip

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// run steps s from t0 to t0+until in steps of step and renders every packet
// as "offset target".
func run(s *Schedule, from, until, step time.Duration, at func(d time.Duration)) []string {
	var out []string
	for d := from; d <= until; d += step {
		if at != nil {
			at(d)
		}
		for _, tg := range s.Due(t0.Add(d)) {
			out = append(out, fmt.Sprintf("%s %s", d, tg))
		}
	}
	return out
}

func tgt(s string) Target { return Target{"eth0", netip.MustParseAddr(s)} }

func TestScheduleKeepalivedDefaults(t *testing.T) {
	// keepalived: vrrp_garp_master_repeat 5, vrrp_garp_master_delay 5;
	// vigil turns vrrp_garp_master_refresh on at 5 s, refresh_repeat 1.
	s, err := NewSchedule(DefaultTiming())
	if err != nil {
		t.Fatal(err)
	}
	a := tgt("10.0.0.200")
	if !s.Start(t0, a) {
		t.Fatal("first Start should report first")
	}
	got := run(s, 0, 21*time.Second, 500*time.Millisecond, nil)
	want := []string{
		"0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200", "0s eth0 10.0.0.200",
		"5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200", "5s eth0 10.0.0.200",
		"10s eth0 10.0.0.200", "15s eth0 10.0.0.200", "20s eth0 10.0.0.200",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packets\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if next, ok := s.Next(); !ok || next != t0.Add(25*time.Second) {
		t.Errorf("Next = %v %v, want t0+25s", next.Sub(t0), ok)
	}
}

func TestScheduleVariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		timing Timing
		until  time.Duration
		want   string
	}{
		{"no second burst, no refresh: quiet after the burst",
			Timing{Repeat: 2}, 20 * time.Second, "0s|0s"},
		{"interval spreads a burst",
			Timing{Repeat: 3, Interval: 200 * time.Millisecond, Delay: 2 * time.Second}, 3 * time.Second,
			"0s|200ms|400ms|2s|2.2s|2.4s"},
		{"refresh repeat",
			Timing{Repeat: 1, Refresh: 2 * time.Second, RefreshRepeat: 2, Interval: 100 * time.Millisecond}, 4500 * time.Millisecond,
			"0s|2s|2.1s|4s|4.1s"},
		{"refresh without second burst",
			Timing{Repeat: 1, Refresh: time.Second, RefreshRepeat: 1}, 3 * time.Second,
			"0s|1s|2s|3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchedule(tc.timing)
			if err != nil {
				t.Fatal(err)
			}
			s.Start(t0, tgt("10.0.0.200"))
			var got []string
			for _, p := range run(s, 0, tc.until, 100*time.Millisecond, nil) {
				got = append(got, strings.Fields(p)[0])
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got %s, want %s", g, tc.want)
			}
		})
	}
}

func TestScheduleRefcountAndStop(t *testing.T) {
	s, _ := NewSchedule(Timing{Repeat: 2, Delay: time.Second, Refresh: time.Second, RefreshRepeat: 1})
	a, b := tgt("10.0.0.200"), tgt("fd00::200")
	s.Start(t0, a)
	if s.Start(t0, a) {
		t.Error("second Start of the same target reported first")
	}
	if s.Refs(a) != 2 {
		t.Errorf("refs %d", s.Refs(a))
	}
	got := run(s, 0, 3*time.Second, 500*time.Millisecond, func(d time.Duration) {
		switch d {
		case 500 * time.Millisecond:
			s.Start(t0.Add(d), b)
		case 1500 * time.Millisecond:
			if s.Stop(a) {
				t.Error("Stop with a reference left reported last")
			}
		case 2500 * time.Millisecond:
			if !s.Stop(a) {
				t.Error("last Stop did not report last")
			}
		}
	})
	want := "0s eth0 10.0.0.200|0s eth0 10.0.0.200|" +
		"500ms eth0 fd00::200|500ms eth0 fd00::200|" +
		"1s eth0 10.0.0.200|1s eth0 10.0.0.200|" +
		"1.5s eth0 fd00::200|1.5s eth0 fd00::200|" +
		"2s eth0 10.0.0.200|" +
		"2.5s eth0 fd00::200"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("got\n%s\nwant\n%s", strings.ReplaceAll(g, "|", "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
	if s.Active(a) || !s.Active(b) {
		t.Errorf("active: a %v b %v", s.Active(a), s.Active(b))
	}
	if !s.Stop(tgt("10.9.9.9")) {
		t.Error("Stop of an unknown target should report it is not announced")
	}
	if got := fmt.Sprint(s.Targets()); got != "[eth0 fd00::200]" {
		t.Errorf("Targets %s", got)
	}
}

// TestScheduleLate: a driver that wakes late sends each missed burst
// packet but skips missed refreshes instead of sending a pile.
func TestScheduleLate(t *testing.T) {
	s, _ := NewSchedule(Timing{Repeat: 2, Delay: time.Second, Refresh: time.Second, RefreshRepeat: 1})
	s.Start(t0, tgt("10.0.0.200"))
	if n := len(s.Due(t0.Add(10500 * time.Millisecond))); n != 2+2 {
		t.Errorf("late by 10 s: %d packets, want 4 (both bursts, no missed refresh)", n)
	}
	if next, _ := s.Next(); next != t0.Add(11*time.Second) {
		t.Errorf("next refresh at %s, want 11s", next.Sub(t0))
	}
}

func TestTimingValidate(t *testing.T) {
	if err := DefaultTiming().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tm := range map[string]Timing{
		"no packets":         {Repeat: 0},
		"negative delay":     {Repeat: 1, Delay: -1},
		"negative refresh":   {Repeat: 1, Refresh: -1},
		"refresh of nothing": {Repeat: 1, Refresh: time.Second},
		"negative interval":  {Repeat: 1, Interval: -1},
		"burst over refresh": {Repeat: 5, Interval: time.Second, Refresh: 2 * time.Second, RefreshRepeat: 1},
	} {
		if err := tm.Validate(); err == nil {
			t.Errorf("%s: %+v validated", name, tm)
		}
		if _, err := NewSchedule(tm); err == nil {
			t.Errorf("%s: NewSchedule accepted %+v", name, tm)
		}
	}
}

// BenchmarkScheduleDue: one refresh round over 1,000 announced VIPs.
func BenchmarkScheduleDue(b *testing.B) {
	s, _ := NewSchedule(Timing{Repeat: 1, Refresh: time.Second, RefreshRepeat: 1})
	for i := 0; i < 1000; i++ {
		s.Start(t0, Target{"eth0", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})})
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		if len(s.Due(now)) != 1000 {
			b.Fatal("wrong round")
		}
		now = now.Add(time.Second)
	}
}
