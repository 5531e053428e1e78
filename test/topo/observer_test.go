package topo

import (
	"slices"
	"testing"
	"time"
)

// TestObserverRecord: consecutive rounds with several directors answering
// make one split (its directors merged, from the first round's request to
// the last round's end); a round with one answer ends it; the longest run
// of unanswered rounds is the gap; the client's record keeps every change
// of who answers.
func TestObserverRecord(t *testing.T) {
	o := &Observer{}
	t0 := time.Unix(1000, 0)
	rounds := [][]string{{"d1"}, {"d1", "d2"}, {"d1", "d3"}, {"d2"}, {}, {}, {"d2"}, {"d2", "d3"}}
	for i, who := range rounds {
		from := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		o.record(from, from.Add(50*time.Millisecond), who)
	}
	sp := o.Splits(time.Time{})
	if len(sp) != 2 {
		t.Fatalf("splits %+v, want 2", sp)
	}
	if !slices.Equal(sp[0].Who, []string{"d1", "d2", "d3"}) || sp[0].Duration() != 100*time.Millisecond || !sp[0].From.Equal(t0.Add(50*time.Millisecond)) {
		t.Errorf("first split %+v, want d1 d2 d3 for 100ms from round 2", sp[0])
	}
	if !slices.Equal(sp[1].Who, []string{"d2", "d3"}) || sp[1].Duration() != 50*time.Millisecond {
		t.Errorf("second split %+v, want d2 d3 for 50ms", sp[1])
	}
	if got := o.Splits(t0.Add(100 * time.Millisecond)); len(got) != 1 {
		t.Errorf("splits since round 3: %+v, want only the second", got)
	}
	ch := o.Changes(t0.Add(75*time.Millisecond), t0.Add(350*time.Millisecond))
	var whos [][]string
	for _, c := range ch {
		whos = append(whos, c.Who)
	}
	if len(ch) != 5 || !ch[0].At.Equal(t0.Add(75*time.Millisecond)) || !ch[3].At.Equal(t0.Add(200*time.Millisecond)) ||
		!slices.EqualFunc(whos, [][]string{{"d1", "d2"}, {"d1", "d3"}, {"d2"}, nil, {"d2"}}, slices.Equal) {
		t.Errorf("changes from 75ms to 350ms: %+v, want d1 d2 (standing, at 75ms), d1 d3, d2, none at 200ms, d2", ch)
	}
	if o.Gap() != 100*time.Millisecond || o.Rounds() != len(rounds) || !slices.Equal(o.Answering(), []string{"d2", "d3"}) {
		t.Errorf("gap %v rounds %d answering %v, want 100ms, %d, [d2 d3]", o.Gap(), o.Rounds(), o.Answering(), len(rounds))
	}
}
