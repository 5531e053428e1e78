package topo

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/arp"
)

// Observer asks, from the client, who has the VIP once per round and
// collects the ARP replies to each request. Two directors' MACs answering
// one request is two directors serving the VIP at the same instant: a
// split. Gratuitous ARPs are not counted: a handover within one round
// legitimately shows the old holder's reply and the new holder's
// announcement. Addresses alone would not do either: a dead or frozen
// holder's address may linger while a fence keeps it from answering.
type Observer struct {
	cl      *arp.Client
	target  netip.Addr
	macs    map[string]string // MAC → director name
	round   time.Duration
	onSplit func(at time.Time, who []string)

	mu      sync.Mutex
	last    []string // who answered in the last complete round
	rounds  int
	gapFrom time.Time     // start of the current run of unanswered rounds
	maxGap  time.Duration // longest run of unanswered rounds since ResetGap
	splits  []Split
	inSplit bool     // the last round was part of splits[len-1]
	changes []Change // every round whose answer differed from the round before

	stop, stopped chan struct{}
}

// Interval is a time during which several directors did the same thing.
type Interval struct {
	From, To time.Time
	Who      []string // every director that did it, sorted
}

// Duration is how long the interval lasted.
func (i Interval) Duration() time.Duration { return i.To.Sub(i.From) }

// Split is a run of consecutive rounds in which more than one director
// answered ARP for the VIP: From is the first round's request, To the last
// round's end.
type Split = Interval

// Change is the client's record of the VIP answering: from the round whose
// request went out At on, until the next change, Who (the directors whose
// MACs answered; "unknown MAC" for a MAC that is no director's; none:
// nobody answered) answered ARP for the VIP.
type Change struct {
	At  time.Time
	Who []string
}

// Observe starts observing from th's client, one round every round (the
// time it waits for replies). onSplit, if not nil, is called from the
// observer's goroutine for every round in which several directors answer.
// Close stops it.
func Observe(th *Three, round time.Duration, onSplit func(at time.Time, who []string)) (*Observer, error) {
	macs, err := th.MACs()
	if err != nil {
		return nil, err
	}
	o := &Observer{target: netip.MustParseAddr(th.Net.VIP()), macs: macs, round: round, onSplit: onSplit,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := th.Client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		o.cl, err = arp.Dial(ifi)
		return err
	}); err != nil {
		return nil, fmt.Errorf("topo: ARP observer: %w", err)
	}
	go o.run()
	return o, nil
}

// Close stops the observer and waits for its goroutine.
func (o *Observer) Close() {
	close(o.stop)
	<-o.stopped
	o.cl.Close()
}

func (o *Observer) run() {
	defer close(o.stopped)
	for {
		select {
		case <-o.stop:
			return
		default:
		}
		from := time.Now()
		who := o.ask()
		if len(who) > 1 && o.onSplit != nil {
			o.onSplit(from, who)
		}
		o.record(from, time.Now(), who)
	}
}

// ask sends one request and returns, sorted, who replied within a round.
func (o *Observer) ask() []string {
	_ = o.cl.Request(o.target)
	seen := map[string]bool{}
	_ = o.cl.SetReadDeadline(time.Now().Add(o.round))
	for {
		p, _, err := o.cl.Read()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				time.Sleep(10 * time.Millisecond)
			}
			break
		}
		if p.Operation == arp.OperationReply && p.SenderIP == o.target &&
			p.TargetHardwareAddr.String() == o.cl.HardwareAddr().String() {
			seen[p.SenderHardwareAddr.String()] = true
		}
	}
	var who []string
	for mac := range seen {
		name := o.macs[mac]
		if name == "" {
			name = "unknown " + mac
		}
		who = append(who, name)
	}
	slices.Sort(who)
	return who
}

func (o *Observer) record(from, now time.Time, who []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rounds == 0 || !slices.Equal(who, o.last) {
		o.changes = append(o.changes, Change{At: from, Who: who})
	}
	o.last, o.rounds = who, o.rounds+1
	switch {
	case len(who) == 0 && o.gapFrom.IsZero():
		o.gapFrom = now
	case len(who) > 0 && !o.gapFrom.IsZero():
		o.maxGap = max(o.maxGap, now.Sub(o.gapFrom))
		o.gapFrom = time.Time{}
	}
	switch {
	case len(who) > 1 && o.inSplit:
		s := &o.splits[len(o.splits)-1]
		s.To = now
		for _, w := range who {
			if !slices.Contains(s.Who, w) {
				s.Who = append(s.Who, w)
			}
		}
		slices.Sort(s.Who)
	case len(who) > 1:
		o.splits = append(o.splits, Split{From: from, To: now, Who: who})
		o.inSplit = true
	default:
		o.inSplit = false
	}
}

// Answering is who answered ARP for the VIP in the latest round.
func (o *Observer) Answering() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.last)
}

// ResetGap starts measuring the longest time nobody answered ARP.
func (o *Observer) ResetGap() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.maxGap, o.gapFrom = 0, time.Time{}
}

// Gap is the longest time nobody answered ARP for the VIP since ResetGap
// (to a round).
func (o *Observer) Gap() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxGap
}

// Rounds is how many rounds the observer completed.
func (o *Observer) Rounds() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rounds
}

// Splits are the splits that started at or after since (one still going
// on included, up to its latest round).
func (o *Observer) Splits(since time.Time) []Split {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Split
	for _, s := range o.splits {
		if !s.From.Before(since) {
			s.Who = slices.Clone(s.Who)
			out = append(out, s)
		}
	}
	return out
}

// Changes are the changes of who answers ARP for the VIP in [from, to)
// (zero to: until now), preceded by the one standing at from.
func (o *Observer) Changes(from, to time.Time) []Change {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Change
	for i, c := range o.changes {
		if !to.IsZero() && !c.At.Before(to) {
			break
		}
		if c.At.Before(from) && (i+1 == len(o.changes) || o.changes[i+1].At.After(from)) {
			c.At = from // the standing one, as of from
		} else if c.At.Before(from) {
			continue
		}
		out = append(out, Change{At: c.At, Who: slices.Clone(c.Who)})
	}
	return out
}
