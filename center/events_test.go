package center

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
)

// The events a Controller adds to the Machine's reach the page as
// sentences, a failing store and a server that does not record as
// warnings.
func TestControllerEventsReadAsSentences(t *testing.T) {
	h := newEventHub(16, slog.New(slog.NewTextHandler(io.Discard, nil)))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []failover.Event{
		{Kind: failover.EventNotRecording, At: at, Server: "rec-1", Detail: "answered healthy but not recording its cameras: resume ordered"},
		{Kind: failover.EventStoreFailing, At: at, Detail: "disk full"},
		{Kind: failover.EventStoreRecovered, At: at},
	} {
		h.machineEvent(e)
	}
	evs, _, _ := h.since(0)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(evs), evs)
	}
	for i, want := range []struct{ level, words string }{
		{"warn", "rec-1 answers healthy but does not record its cameras"},
		{"warn", "fails; orders wait until it works (disk full)"},
		{"info", "saved again"},
	} {
		if evs[i].Level != want.level || !strings.Contains(evs[i].Message, want.words) {
			t.Errorf("event %d: %s %q, want %s with %q", i, evs[i].Level, evs[i].Message, want.level, want.words)
		}
	}
}
