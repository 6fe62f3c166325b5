package center_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/failover"
)

// sse reads server-sent events from an open stream.
type sse struct {
	sc   *bufio.Scanner
	body io.Closer
}

func (e *env) stream(cl *client, query string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events"+query, nil)
	hc := &http.Client{Jar: cl.hc.Jar} // no timeout: the stream stays open
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		e.t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	e.t.Cleanup(func() {
		cancel()
		res.Body.Close()
	})
	return &sse{sc: bufio.NewScanner(res.Body), body: res.Body}
}

// next returns the next event's name, id and data.
func (s *sse) next(t *testing.T) (name, id, data string) {
	t.Helper()
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if name != "" {
				return name, id, data
			}
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
	return
}

// waitFor reads events until one satisfies ok.
func (s *sse) waitFor(t *testing.T, what string, ok func(center.Event) bool) center.Event {
	t.Helper()
	for {
		name, id, data := s.next(t)
		if name != "event" {
			continue
		}
		var ev center.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %s: %v", data, err)
		}
		if id != uitoa(ev.ID) {
			t.Fatalf("SSE id %s for event %d", id, ev.ID)
		}
		if ok(ev) {
			return ev
		}
	}
}

func TestEventStream(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	if code, _ := e.client().do("GET", "/api/v1/events", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("stream without a session: %d", code)
	}
	var gb groupsBody
	cl.must(http.StatusOK, "GET", "/api/v1/groups", nil, &gb)
	s := e.stream(cl, "?since="+uitoa(gb.LastEvent))

	g := cl.addGroup("Lobby")
	ev := s.waitFor(t, "group-added", func(ev center.Event) bool { return ev.Kind == "group-added" })
	if ev.Group != g || ev.User != "admin" || ev.ID <= gb.LastEvent {
		t.Fatalf("group-added: %+v", ev)
	}

	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-05/crash", map[string]any{}, nil)
	down := s.waitFor(t, "rec-05 down", func(ev center.Event) bool { return ev.Kind == "server-down" && ev.Server == "rec-05" })
	st := s.waitFor(t, "rec-05 taken over", func(ev center.Event) bool {
		return ev.Kind == "status-changed" && ev.Server == "rec-05" && ev.To == "Abnormal, protected"
	})
	if down.Level != "warn" || st.ID <= down.ID {
		t.Fatalf("down %+v, then %+v", down, st)
	}

	// A stream resumed after an id replays what came after it.
	again := e.stream(cl, "?since="+uitoa(ev.ID))
	if got := again.waitFor(t, "the replay", func(center.Event) bool { return true }); got.ID != ev.ID+1 {
		t.Fatalf("resumed after %d, got %d first", ev.ID, got.ID)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	e.waitEvent("rec-07 protected", func(ev failover.Event) bool {
		return ev.Kind == failover.EventStatusChanged && ev.Server == "rec-07" && ev.To == "Normal, protected"
	})
	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-07/crash", map[string]any{}, nil)
	e.waitEvent("the takeover of rec-07", func(ev failover.Event) bool {
		return ev.Kind == failover.EventTakeoverSucceeded && ev.Server == "rec-07"
	})

	anon := e.client() // scrapes and probes need no session
	_, raw := anon.do("GET", "/metrics", nil, nil)
	m := string(raw)
	// A loaded machine may see another server miss its probes now and
	// then, so counts are at least what the crash caused.
	for _, want := range []struct{ series, value string }{
		{`nvrcenter_servers{role="recording",status="Abnormal, protected"}`, `[1-9]\d*`},
		{`nvrcenter_servers{role="standby",status="Normal, protecting"}`, `[1-9]\d*`},
		{`nvrcenter_servers{role="recording",status="Disabled"}`, `0`},
		{`nvrcenter_group_protection{group="1",name="Failover Group 1"}`, `1`},
		{`nvrcenter_group_channels{group="1",name="Failover Group 1",state="protected"}`, `[1-9]\d*`},
		{`nvrcenter_group_channels{group="1",name="Failover Group 1",state="unprotected"}`, `\d+`},
		{`nvrcenter_detection_seconds_count`, `[1-9]\d*`},
		{`nvrcenter_takeover_seconds_count`, `[1-9]\d*`},
		{`nvrcenter_transport_calls_total{kind="probe",outcome="ok"}`, `[1-9]\d*`},
		{`nvrcenter_transport_calls_total{kind="takeover",outcome="ok"}`, `[1-9]\d*`},
		{`nvrcenter_store_saves_total{outcome="ok"}`, `[1-9]\d*`},
		{`nvrcenter_store_save_seconds_count`, `[1-9]\d*`},
		{`nvrcenter_events_total{kind="takeover-succeeded"}`, `[1-9]\d*`},
		// Series an alert watches exist before their first increment.
		{`nvrcenter_command_retries_total{kind="release"}`, `\d+`},
		{`nvrcenter_store_saves_total{outcome="error"}`, `0`},
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.series) + ` ` + want.value + `$`).MatchString(m) {
			t.Errorf("/metrics lacks %s %s", want.series, want.value)
		}
	}
	if !regexp.MustCompile(`(?m)^nvrcenter_transport_calls_total\{kind="probe",outcome="(unreachable|timeout)"\} [1-9]`).MatchString(m) {
		t.Error("/metrics counts no failed probe of the crashed server")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", m)
	}
	if code, raw := anon.do("GET", "/healthz", nil, nil); code != http.StatusOK || string(raw) != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, raw)
	}
	if code, raw := anon.do("GET", "/readyz", nil, nil); code != http.StatusOK {
		t.Fatalf("/readyz: %d %q", code, raw)
	}
}

// What the API changed is in the FileStore: a center started again on the
// same file has it.
func TestStateSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	g := cl.addGroup("Lobby")
	cl.must(http.StatusOK, "PUT", "/api/v1/groups/"+itoa(g)+"/protection", map[string]bool{"on": false}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := failover.NewFileStore(e.store).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := failover.RestoreMachine(failover.Config{}, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	snap := m.Snapshot()
	if len(snap.Groups) != 2 || snap.Groups[1].Name != "Lobby" || snap.Groups[1].Protection || len(snap.Groups[0].Members) != 16 {
		t.Fatalf("restored %+v", snap.Groups)
	}
}
