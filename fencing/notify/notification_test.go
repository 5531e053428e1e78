package notify

import (
	"testing"
	"time"

	"vigil/fencing"
)

func TestFIFOLine(t *testing.T) {
	for _, tc := range []struct {
		t    Transition
		want string
	}{
		{Transition{Name: "VI_1", State: StateMaster, Priority: 100}, "INSTANCE \"VI_1\" MASTER 100\n"},
		{Transition{Name: "VI_1", State: StateBackup, Priority: 90}, "INSTANCE \"VI_1\" BACKUP 90\n"},
		{Transition{Name: "VI_2", State: StateFault}, "INSTANCE \"VI_2\" FAULT 0\n"},
		{Transition{Name: "VI_2", State: StateStop, Priority: 255}, "INSTANCE \"VI_2\" STOP 255\n"},
		{Transition{Name: "VI_3", State: StateDeleted, Priority: 50}, "INSTANCE \"VI_3\" DELETED 50\n"},
		{Transition{Group: true, Name: "VG_1", State: StateMaster, Priority: 100}, "GROUP \"VG_1\" MASTER 0\n"},
		{Transition{Name: "VI_1", State: State(42), Priority: 1}, "INSTANCE \"VI_1\" {UNKNOWN} 1\n"},
	} {
		if got := FIFOLine(tc.t); got != tc.want {
			t.Errorf("FIFOLine(%+v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestMessage(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	alert := fencing.Alert{Kind: fencing.KindRogueAdvert, Severity: fencing.SeverityCritical, Since: at, Instance: "VI_1", Peer: "10.0.0.99",
		Epoch: 42, Count: 3, Message: "VRRP advert for VRID 51 from 10.0.0.99", Evidence: map[string]string{"vrid": "51", "priority": "254"}}
	resolved := alert
	resolved.Resolved, resolved.ResolvedAt = true, at.Add(time.Minute)
	for _, tc := range []struct {
		name          string
		n             Notification
		subject, body string
	}{
		{"master", Notification{Transition: &Transition{Name: "VI_1", State: StateMaster, Priority: 100}},
			"[lb1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{"backup with epoch", Notification{Transition: &Transition{Name: "VI_1", State: StateBackup, Epoch: 7}},
			"[lb1] VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <=\n\nepoch: 7"},
		{"fault", Notification{Transition: &Transition{Name: "VI_1", State: StateFault}},
			"[lb1] VRRP Instance VI_1 - Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		{"stop", Notification{Transition: &Transition{Name: "VI_1", State: StateStop}},
			"[lb1] VRRP Instance VI_1 - Stopping", "=> VRRP Instance is stopping <="},
		{"group master", Notification{Transition: &Transition{Group: true, Name: "VG_1", State: StateMaster}},
			"[lb1] VRRP Group VG_1 - Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
		{"alert", Notification{Alert: &alert},
			"[lb1] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RAISED",
			"=> VRRP advert for VRID 51 from 10.0.0.99 <=\n\nseverity: critical\nsince: 2026-11-21T12:00:00Z\nepoch: 42\nobservations: 3\npriority: 254\nvrid: 51"},
		{"resolved", Notification{Alert: &resolved},
			"[lb1] Split-brain alert rogue_advert instance=VI_1 peer=10.0.0.99 - RESOLVED",
			"=> VRRP advert for VRID 51 from 10.0.0.99 <=\n\nseverity: critical\nsince: 2026-11-21T12:00:00Z\nresolved: 2026-11-21T12:01:00Z\nepoch: 42\nobservations: 3\npriority: 254\nvrid: 51"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, b := Message("lb1", tc.n)
			if s != tc.subject || b != tc.body {
				t.Errorf("got\n%s\n%s\nwant\n%s\n%s", s, b, tc.subject, tc.body)
			}
		})
	}
}

func TestAlertLine(t *testing.T) {
	a := fencing.Alert{Kind: fencing.KindRogueAdvert, Instance: "VI_1", Peer: "10.0.0.99", Epoch: 42}
	if got := AlertLine(a); got != "ALERT rogue_advert RAISED \"instance=VI_1 peer=10.0.0.99\" 42\n" {
		t.Fatalf("%q", got)
	}
	b := fencing.Alert{Kind: fencing.KindLinkDegraded, Peer: "d2", Link: "hb", Resolved: true}
	if got := AlertLine(b); got != "ALERT link_degraded CLEARED \"peer=d2 link=hb\" 0\n" {
		t.Fatalf("%q", got)
	}
}
