package history

import (
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// TakeoverSpan is one takeover as the Machine ran it.
type TakeoverSpan struct {
	Recording nvrha.ServerID `json:"recording"`
	Standby   nvrha.ServerID `json:"standby"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	From      time.Duration  `json:"from"`
	// Confirmed is when the standby confirmed it, -1 if never.
	Confirmed time.Duration `json:"confirmed"`
	To        time.Duration `json:"to"`
	// Outcome is "failback", "failed: ...", "interrupted: ...", "lost at
	// center restart", or "running" (at the end of the run).
	Outcome string `json:"outcome"`
}

// Takeovers rebuilds the takeovers the Machine ran from the events it
// published and the States the center restored. An observer that needs
// them keeps one and feeds it.
type Takeovers struct {
	Spans []TakeoverSpan
	open  map[nvrha.ServerID]int // recording -> index+1 into Spans
}

// Running reports whether the Machine runs a takeover of rec, and its
// span's index.
func (t *Takeovers) Running(rec nvrha.ServerID) (int, bool) {
	k := t.open[rec]
	return k - 1, k != 0
}

// Event follows one Machine event at now.
func (t *Takeovers) Event(e *failover.Event, now time.Duration) {
	switch e.Kind {
	case failover.EventTakeoverStarted:
		t.start(e.Server, e.Peer, e.Epoch, now)
	case failover.EventTakeoverSucceeded:
		if k, ok := t.Running(e.Server); ok {
			t.Spans[k].Confirmed = now
			t.Spans[k].Epoch = e.Epoch
		}
	case failover.EventTakeoverFailed:
		t.end(e.Server, "failed: "+e.Detail, now)
	case failover.EventTakeoverInterrupted:
		t.end(e.Server, "interrupted: "+e.Detail, now)
	case failover.EventFailbackCompleted:
		t.end(e.Server, "failback", now)
	}
}

func (t *Takeovers) start(rec, sb nvrha.ServerID, e nvrha.Epoch, now time.Duration) {
	if t.open == nil {
		t.open = map[nvrha.ServerID]int{}
	}
	t.Spans = append(t.Spans, TakeoverSpan{Recording: rec, Standby: sb, Epoch: e, From: now, Confirmed: -1, To: -1, Outcome: "running"})
	t.open[rec] = len(t.Spans)
}

func (t *Takeovers) end(rec nvrha.ServerID, outcome string, now time.Duration) {
	if k, ok := t.Running(rec); ok {
		t.Spans[k].To = now
		t.Spans[k].Outcome = outcome
		delete(t.open, rec)
	}
}

// Restored reconciles the takeovers with the State a restarted center
// restored: one it no longer runs (or runs with another standby) was lost;
// one it runs that was not running starts now, unconfirmed.
func (t *Takeovers) Restored(st *failover.State, now time.Duration) {
	in := map[nvrha.ServerID]failover.TakeoverState{}
	for _, tk := range st.Takeovers {
		in[tk.Recording] = tk
	}
	recs := make([]nvrha.ServerID, 0, len(t.open))
	for rec := range t.open {
		recs = append(recs, rec)
	}
	slices.Sort(recs)
	for _, rec := range recs {
		tk, ok := in[rec]
		if !ok || tk.Standby != t.Spans[t.open[rec]-1].Standby {
			t.end(rec, "lost at center restart", now)
		}
	}
	for _, tk := range st.Takeovers {
		if _, ok := t.Running(tk.Recording); !ok {
			t.start(tk.Recording, tk.Standby, tk.Epoch, now)
		}
	}
}

// Close ends every running takeover's span at end (it stays "running").
func (t *Takeovers) Close(end time.Duration) {
	for k := range t.Spans {
		if t.Spans[k].To < 0 {
			t.Spans[k].To = end
		}
	}
}
