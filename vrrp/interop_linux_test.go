package vrrp_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/vrrp"
)

// interopWindow is how long keepalived must stay BACKUP beside our sender:
// the full minute with VIGIL_LONG=1, a few seconds otherwise so CI
// stays fast (the variants run in parallel).
func interopWindow() time.Duration {
	if os.Getenv("VIGIL_LONG") == "1" {
		return time.Minute
	}
	return 8 * time.Second
}

// states reads the states keepalived's notify script appended.
func readStates(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// waitState waits until keepalived's notify script has reported n states
// and the n-th is want; it returns when the test saw it.
func waitState(t *testing.T, path string, n int, want string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := readStates(t, path)
		if len(s) >= n {
			if s[n-1] != want {
				t.Fatalf("keepalived state #%d is %s, want %s (states %v)", n, s[n-1], want, s)
			}
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("keepalived did not report state #%d %s within %v (states %v)", n, want, timeout, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeepalivedInterop runs our Sender beside keepalived 2.2.7 as a
// lower-priority BACKUP of the same VRID, for v2 and v3, multicast and
// unicast (and v3 over IPv6), each in its own lab, in parallel:
//
//  1. keepalived stays BACKUP for the whole window while we advertise
//     (RFC 3768/5798 §6.4.2: a higher-priority master), and sends nothing
//     our Listener would see;
//  2. on Release (one priority-0 advert) it becomes MASTER after its skew
//     time, well before Master_Down_Interval (RFC 5798 §6.4.2 "If the
//     Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer
//     to Skew_Time"), and our Listener reports its adverts as foreign;
//  3. when we hold again it goes back to BACKUP (preemption by priority);
//  4. when our sender just stops, it becomes MASTER after
//     Master_Down_Interval (3 * Advertisement_Interval + Skew_Time).
//
// keepalived's state is read from its notify script, which appends each
// state to a file.
func TestKeepalivedInterop(t *testing.T) {
	window := interopWindow()
	t.Logf("observation window %v (VIGIL_LONG=1 for a minute)", window)
	for _, tc := range []struct {
		name    string
		version uint8
		ipv6    bool
		unicast bool
	}{
		{"v2-multicast", 2, false, false},
		{"v2-unicast", 2, false, true},
		{"v3-multicast", 3, false, false},
		{"v3-unicast", 3, false, true},
		{"v3-ipv6-multicast", 3, true, false},
		{"v3-ipv6-unicast", 3, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newVRRPLab(t)
			const prioKA, prioVG = 100, 200
			interval := time.Second
			skew := time.Duration(256-prioKA) * interval / 256
			masterDown := 3*interval + skew

			k := kaInstance{name: "interop", version: tc.version, vrid: 42, prio: prioKA, interval: interval,
				vips: addrs("10.0.0.100"), state: "BACKUP", ipv6: tc.ipv6}
			if tc.version == 2 {
				k.pass = "vigil"
			}
			if tc.ipv6 {
				k.vips = addrs("fd00::100")
			}
			dcfg := vrrp.DialConfig{Interface: "eth0", IPv6: tc.ipv6, NoMulticast: tc.unicast}
			conn := dial(t, l.vg, dcfg)
			dst := vrrp.GroupV4
			if tc.ipv6 {
				dst = vrrp.GroupV6
			}
			if tc.unicast {
				k.peer, dst = conn.Src(), kaIP4
				if tc.ipv6 {
					dst = kaIP6
				}
			}
			dir := t.TempDir()
			statesPath := filepath.Join(dir, "states")
			k.notify = filepath.Join(dir, "notify.sh")
			script := "#!/bin/sh\necho \"$3\" >> " + statesPath + "\n"
			if err := os.WriteFile(k.notify, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}

			// Our side: a sender holding VRID 42 with the higher priority,
			// and a listener expecting nobody but us.
			logger := testLogger(t)
			s, err := vrrp.NewSender(conn, vrrp.SenderConfig{Src: conn.Src(), Dsts: []netip.Addr{dst}, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			want := k.want(prioVG)
			var (
				mu      sync.Mutex
				foreign []vrrp.Foreign
			)
			lis, err := vrrp.NewListener(conn, vrrp.ListenerConfig{
				Lookup: func(vrid uint8) (vrrp.Watch, bool) {
					return vrrp.Watch{Holder: conn.Src(), Local: vrrp.Local{Version: k.version, AuthType: want.AuthType,
						AuthData: want.AuthData, Interval: interval, Addrs: k.vips}}, vrid == k.vrid
				},
				OnForeign: func(f vrrp.Foreign) { mu.Lock(); foreign = append(foreign, f); mu.Unlock() },
				Logger:    logger,
			})
			if err != nil {
				t.Fatal(err)
			}
			foreignCount := func() int { mu.Lock(); defer mu.Unlock(); return len(foreign) }
			lctx, lcancel := context.WithCancel(context.Background())
			ldone := make(chan error, 1)
			go func() { ldone <- lis.Run(lctx) }()
			defer func() {
				lcancel()
				if err := <-ldone; err != nil {
					t.Errorf("listener: %v", err)
				}
			}()
			sctx, scancel := context.WithCancel(context.Background())
			sdone := make(chan struct{}) // closed when Run returns
			go func() {
				defer close(sdone)
				if err := s.Run(sctx); err != nil {
					t.Errorf("sender: %v", err)
				}
			}()
			defer func() { scancel(); <-sdone }()
			if err := s.Hold(want); err != nil {
				t.Fatal(err)
			}

			ka := startKeepalived(t, l.ka, k)
			waitState(t, statesPath, 1, "BACKUP", 15*time.Second)

			// 1. keepalived stays BACKUP for the window.
			end := time.Now().Add(window)
			for time.Now().Before(end) {
				if st := readStates(t, statesPath); len(st) != 1 {
					t.Fatalf("keepalived left BACKUP beside our higher-priority sender: states %v", st)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if n := foreignCount(); n != 0 {
				t.Fatalf("keepalived advertised while BACKUP: %d foreign adverts, first %+v", n, foreign[0])
			}
			if n := ka.count("Entering MASTER STATE"); n != 0 {
				t.Fatalf("keepalived logged MASTER %d times", n)
			}

			// keepalived took every advert of ours without a complaint
			// (TestKeepalivedComplains shows it does complain).
			for _, c := range kaComplaints(ka.proc.Output()) {
				t.Errorf("keepalived complained while we advertised: %s", c)
			}

			// 2. Release: MASTER after the skew time, not Master_Down_Interval.
			released := time.Now()
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
			tookOver := waitState(t, statesPath, 2, "MASTER", 10*time.Second).Sub(released)
			t.Logf("after our priority-0 advert keepalived became MASTER in %v (skew time %v, Master_Down_Interval %v)", tookOver, skew, masterDown)
			if tookOver >= masterDown {
				t.Errorf("keepalived took %v to take over after our release, not less than Master_Down_Interval %v: it ignored the priority-0 advert", tookOver, masterDown)
			}
			deadline := time.Now().Add(5 * time.Second)
			for foreignCount() == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			if len(foreign) == 0 {
				t.Errorf("the listener did not report keepalived's adverts as foreign")
			} else if f := foreign[0]; f.Advert.Priority != prioKA || f.Advert.VRID != k.vrid || f.Err != nil ||
				f.Info.Src.WithZone("") != map[bool]netip.Addr{false: kaIP4, true: kaIP6}[tc.ipv6] {
				t.Errorf("foreign advert %+v, advert %+v", f, f.Advert)
			}
			mu.Unlock()

			// 3. Hold again: keepalived yields to the higher priority.
			if err := s.Hold(want); err != nil {
				t.Fatal(err)
			}
			waitState(t, statesPath, 3, "BACKUP", 5*time.Second)

			// 4. Stop sending without a release: MASTER after Master_Down_Interval
			// from our last advert, which went out at most one interval before.
			scancel()
			<-sdone
			stopped := time.Now()
			tookOver = waitState(t, statesPath, 4, "MASTER", 15*time.Second).Sub(stopped)
			t.Logf("after our sender stopped keepalived became MASTER in %v (Master_Down_Interval %v)", tookOver, masterDown)
			if tookOver < masterDown-interval-100*time.Millisecond {
				t.Errorf("keepalived took over %v after our last advert, sooner than Master_Down_Interval %v", tookOver, masterDown)
			}
			if st := s.Stats(); st.Errors != 0 {
				t.Errorf("sender stats %+v", st)
			}
			if st := lis.Stats(); len(st.Drops) != 0 {
				t.Errorf("listener dropped keepalived's adverts: %+v", st)
			}
		})
	}
}

// kaComplaints returns the lines where keepalived rejects an advert ("received
// an invalid passwd!", "Invalid VRRPv2 checksum", "advertisement interval
// mismatch", "ip address ... not present in MASTER advert", ...).
func kaComplaints(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		low := strings.ToLower(line)
		for _, bad := range []string{"invalid", "mismatch", "wrong", "not present", "bad", "error", "discard", "drop"} {
			if strings.Contains(low, bad) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}
