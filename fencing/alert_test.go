package fencing

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAlertJSONRoundTrip(t *testing.T) {
	a := Alert{Kind: KindFenceFailed, Severity: SeverityCritical, Since: t0, Last: t0.Add(time.Second), Node: "d2", Instance: "VI_1",
		Epoch: 43, Count: 2, Message: "fence hook failed", Evidence: map[string]string{"attempt": "2"}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"severity":"critical"`) || strings.Contains(string(b), "resolved_at") {
		t.Fatalf("json %s", b)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, back) {
		t.Fatalf("round trip\n%+v\n%+v", a, back)
	}
	var s Severity
	if err := s.UnmarshalText([]byte("loud")); err == nil {
		t.Fatal("unknown severity accepted")
	}
}

func TestKindsSeverities(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds {
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
		if k.Severity() == SeverityInfo {
			t.Errorf("%s has no severity", k)
		}
	}
	if len(Kinds) != 8 {
		t.Fatalf("%d kinds, want the 8 of issue 7", len(Kinds))
	}
}
