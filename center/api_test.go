package center_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/center/demo"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
)

type groupsBody struct {
	Groups    []center.GroupView `json:"groups"`
	LastEvent uint64             `json:"last_event"`
}

func (cl *client) groups() []center.GroupView {
	var b groupsBody
	cl.must(http.StatusOK, "GET", "/api/v1/groups", nil, &b)
	return b.Groups
}

func (cl *client) member(id nvrha.ServerID) center.MemberView {
	cl.t.Helper()
	for _, g := range cl.groups() {
		for _, m := range append(g.RecordingServers, g.StandbyServers...) {
			if m.ID == id {
				return m
			}
		}
	}
	cl.t.Fatalf("%s is in no group", id)
	return center.MemberView{}
}

// approval verifies as the first admin user for one operation.
func (cl *client) approval(op failover.Operation, g failover.GroupID, servers ...nvrha.ServerID) string {
	cl.t.Helper()
	var a struct {
		Token string `json:"token"`
	}
	cl.must(http.StatusCreated, "POST", "/api/v1/approvals",
		map[string]any{"operation": op, "group": g, "servers": servers, "password": adminPassword}, &a)
	return a.Token
}

func (cl *client) addGroup(name string) failover.GroupID {
	var g center.GroupView
	cl.must(http.StatusCreated, "POST", "/api/v1/groups", map[string]string{"name": name}, &g)
	return g.ID
}

func TestLoginAndSession(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	if code, _ := anon.do("GET", "/api/v1/groups", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("groups without a session: %d, want 401", code)
	}
	code, raw := anon.do("POST", "/api/v1/session", map[string]string{"user": "admin", "password": "wrong"}, nil)
	if code != http.StatusUnauthorized || errorOf(t, raw).Code != "unauthenticated" {
		t.Fatalf("wrong password: %d %s", code, raw)
	}
	if code, _ := anon.do("POST", "/api/v1/session", map[string]string{"user": "nobody", "password": adminPassword}, nil); code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", code)
	}

	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/session", strings.NewReader(`{"user":"operator","password":"`+otherPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "nvrcenter_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || len(ck.Value) < 40 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict and a long random value", ck)
	}

	op := e.login("operator", otherPassword)
	var s struct {
		User       string `json:"user"`
		FirstAdmin string `json:"first_admin"`
	}
	op.must(http.StatusOK, "GET", "/api/v1/session", nil, &s)
	if s.User != "operator" || s.FirstAdmin != "admin" {
		t.Fatalf("session %+v", s)
	}
	op.must(http.StatusNoContent, "DELETE", "/api/v1/session", map[string]any{}, nil)
	if code, _ := op.do("GET", "/api/v1/groups", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("groups after logging out: %d, want 401", code)
	}
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t)
	cl := e.client()
	for range 5 {
		cl.do("POST", "/api/v1/session", map[string]string{"user": "operator", "password": "guess"}, nil)
	}
	code, raw := cl.do("POST", "/api/v1/session", map[string]string{"user": "operator", "password": otherPassword}, nil)
	if code != http.StatusTooManyRequests {
		t.Fatalf("the right password after 5 wrong ones within a minute: %d %s, want 429", code, raw)
	}
}

// A cross-site form can post, but not with a JSON content type: every
// change needs one.
func TestChangesNeedJSON(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/groups", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := cl.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d, want 415", res.StatusCode)
	}
	if len(cl.groups()) != 1 {
		t.Fatal("the form post added a group")
	}
	code, raw := cl.do("POST", "/api/v1/groups", map[string]any{"name": "x", "extra": 1}, nil)
	if code != http.StatusBadRequest || errorOf(t, raw).Code != "bad_request" {
		t.Fatalf("unknown field: %d %s", code, raw)
	}
}

func TestGroupOperations(t *testing.T) {
	e := newEnv(t)
	cl := e.login("operator", otherPassword)
	g := cl.addGroup("Lobby")
	if code, raw := cl.do("POST", "/api/v1/groups", map[string]string{"name": "Lobby"}, nil); code != http.StatusConflict {
		t.Fatalf("a second Lobby: %d %s", code, raw)
	}
	if code, raw := cl.do("POST", "/api/v1/groups", map[string]string{"name": ""}, nil); code != http.StatusBadRequest {
		t.Fatalf("an empty name: %d %s", code, raw)
	}
	var renamed center.GroupView
	cl.must(http.StatusOK, "PATCH", "/api/v1/groups/"+itoa(g), map[string]string{"name": "Car park"}, &renamed)
	if renamed.Name != "Car park" {
		t.Fatalf("renamed to %q", renamed.Name)
	}
	if code, _ := cl.do("GET", "/api/v1/groups/99", nil, nil); code != http.StatusNotFound {
		t.Fatalf("group 99: %d", code)
	}

	// Failover Protection off withdraws every server of the group.
	var off center.GroupView
	cl.must(http.StatusOK, "PUT", "/api/v1/groups/1/protection", map[string]bool{"on": false}, &off)
	for _, m := range append(off.RecordingServers, off.StandbyServers...) {
		if m.Status.Label != "Disabled" {
			t.Fatalf("%s with protection off: %q", m.ID, m.Status.Label)
		}
	}
	cl.must(http.StatusOK, "PUT", "/api/v1/groups/1/protection", map[string]bool{"on": true}, nil)

	// Deleting needs the first admin user's password, approving this one
	// deletion once, from this session.
	del := "/api/v1/groups/" + itoa(g)
	code, raw := cl.do("DELETE", del, map[string]any{}, nil)
	if code != http.StatusForbidden || errorOf(t, raw).Code != "verification_failed" {
		t.Fatalf("delete without verification: %d %s", code, raw)
	}
	code, raw = cl.do("POST", "/api/v1/approvals", map[string]any{"operation": "delete group", "group": g, "password": otherPassword}, nil)
	if code != http.StatusForbidden {
		t.Fatalf("approval with a password not the first admin user's: %d %s", code, raw)
	}
	other := cl.approval(failover.OpDeleteGroup, 1)
	if code, _ := cl.do("DELETE", del, map[string]any{}, nil, "Nvrha-Approval", other); code != http.StatusForbidden {
		t.Fatalf("an approval for another group: %d", code)
	}
	tok := cl.approval(failover.OpDeleteGroup, g)
	thief := e.login("admin", adminPassword)
	if code, _ := thief.do("DELETE", del, map[string]any{}, nil, "Nvrha-Approval", tok); code != http.StatusForbidden {
		t.Fatalf("an approval from another session: %d", code)
	}
	tok = cl.approval(failover.OpDeleteGroup, g)
	cl.must(http.StatusOK, "DELETE", del, map[string]any{}, nil, "Nvrha-Approval", tok)
	if len(cl.groups()) != 1 {
		t.Fatal("the group is still there")
	}
	g2 := cl.addGroup("Again")
	if code, _ := cl.do("DELETE", "/api/v1/groups/"+itoa(g2), map[string]any{}, nil, "Nvrha-Approval", tok); code != http.StatusForbidden {
		t.Fatalf("an approval used twice: %d", code)
	}
	tok = cl.approval(failover.OpDeleteGroup, 1)
	if code, raw := cl.do("DELETE", "/api/v1/groups/1", map[string]any{}, nil, "Nvrha-Approval", tok); code != http.StatusConflict {
		t.Fatalf("deleting Failover Group 1: %d %s", code, raw)
	}
}

func itoa(g failover.GroupID) string { return strconv.FormatUint(uint64(g), 10) }

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

// An Add refused names every refused server with every rule it failed,
// and adds nothing.
func TestAddRefusesWithEveryReason(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	g := cl.addGroup("Lobby")
	path := "/api/v1/groups/" + itoa(g)
	cl.must(http.StatusOK, "POST", path+"/recording-servers", map[string]any{"servers": []nvrha.ServerID{demo.NewRecorder}}, nil)

	var cands struct {
		Candidates []center.Candidate `json:"candidates"`
	}
	cl.must(http.StatusOK, "GET", path+"/candidates?role=standby", nil, &cands)
	byID := map[nvrha.ServerID]center.Candidate{}
	for _, c := range cands.Candidates {
		byID[c.ID] = c
	}
	if c := byID[demo.SpareStandby]; !c.Eligible || len(c.Reasons) != 0 {
		t.Errorf("spare-standby: %+v, want eligible", c)
	}
	wantOld := []eligibility.Code{eligibility.CodeCameraListNotEmpty, eligibility.CodeInsufficientLicense}
	if c := byID[demo.OldNVR]; c.Eligible || !slices.Equal(c.Reasons.Codes(), wantOld) {
		t.Errorf("old-nvr: %+v, want refused for %v", c, wantOld)
	}
	if c := byID["rec-01"]; c.Eligible || !c.Reasons.Has(eligibility.CodeInAnotherGroup) || c.CurrentGroup != "Failover Group 1" {
		t.Errorf("rec-01: %+v, want refused as in another group", c)
	}
	if _, ok := byID[demo.NewRecorder]; ok {
		t.Error("a member of the group is offered to it")
	}

	if err := e.fleet.Crash("standby-1"); err != nil {
		t.Fatal(err)
	}
	code, raw := cl.do("POST", path+"/standby-servers",
		map[string]any{"servers": []nvrha.ServerID{demo.OldNVR, demo.SpareStandby, "rec-01", "standby-1"}}, nil)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("add: %d %s, want 422", code, raw)
	}
	got := map[nvrha.ServerID][]eligibility.Code{}
	for _, r := range errorOf(t, raw).Refused {
		got[r.Server] = r.Reasons.Codes()
	}
	if !slices.Equal(got[demo.OldNVR], wantOld) {
		t.Errorf("old-nvr refused for %v, want %v", got[demo.OldNVR], wantOld)
	}
	if !slices.Contains(got["rec-01"], eligibility.CodeInAnotherGroup) || !slices.Contains(got["rec-01"], eligibility.CodeCameraListNotEmpty) {
		t.Errorf("rec-01 refused for %v", got["rec-01"])
	}
	if !slices.Equal(got["standby-1"], []eligibility.Code{center.CodeUnreachable}) {
		t.Errorf("standby-1 (crashed) refused for %v, want unreachable", got["standby-1"])
	}
	if _, ok := got[demo.SpareStandby]; ok || len(got) != 3 {
		t.Errorf("refused %v: want old-nvr, rec-01 and standby-1 only", got)
	}
	var gv center.GroupView
	cl.must(http.StatusOK, "GET", path, nil, &gv)
	if len(gv.StandbyServers) != 0 {
		t.Fatalf("a refused batch added %v", gv.StandbyServers)
	}
	cl.must(http.StatusOK, "POST", path+"/standby-servers", map[string]any{"servers": []nvrha.ServerID{demo.SpareStandby}}, &gv)
	if len(gv.StandbyServers) != 1 {
		t.Fatalf("standbys %v", gv.StandbyServers)
	}
}

// A crash shows as the manual says, the ledger tells who recorded a camera
// when, and the failback gives the cameras back.
func TestTakeoverLedgerAndFailback(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	e.waitEvent("rec-03 protected", func(ev failover.Event) bool {
		return ev.Kind == failover.EventStatusChanged && ev.Server == "rec-03" && ev.To == "Normal, protected"
	})
	if code, raw := cl.do("POST", "/api/v1/servers/rec-03/failback", map[string]any{}, nil); code != http.StatusConflict {
		t.Fatalf("failback of a server not taken over: %d %s", code, raw)
	}
	before := time.Now()
	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-03/crash", map[string]any{}, nil)
	took := e.waitEvent("the takeover of rec-03", func(ev failover.Event) bool {
		return ev.Kind == failover.EventTakeoverSucceeded && ev.Server == "rec-03"
	})
	var sv struct {
		Group failover.GroupID `json:"group"`
		center.MemberView
	}
	cl.must(http.StatusOK, "GET", "/api/v1/servers/rec-03", nil, &sv)
	if sv.Status.Label != "Abnormal, protected" || sv.Status.Description != "This recording server is not functioning properly, and is taken over by standby server now." || sv.Peer != took.Peer {
		t.Fatalf("rec-03 after the takeover: %+v", sv)
	}
	if st := cl.member(took.Peer).Status; st.Label != "Normal, protecting" {
		t.Fatalf("%s: %+v", took.Peer, st)
	}
	// A failback while the server is still down is the operator's
	// mistake to correct, not the center's failure.
	code, raw := cl.do("POST", "/api/v1/servers/rec-03/failback", map[string]any{}, nil)
	if code != http.StatusConflict || errorOf(t, raw).Code != "not_recovered" {
		t.Fatalf("failback of a server still down: %d %s, want 409 not_recovered", code, raw)
	}
	code, raw = cl.do("POST", "/api/v1/servers/"+string(took.Peer)+"/failback", map[string]any{}, nil)
	if code != http.StatusConflict || errorOf(t, raw).Code != "not_recording_server" {
		t.Fatalf("failback of a standby: %d %s, want 409 not_recording_server", code, raw)
	}

	type ledger struct {
		Holders   []failover.Interval `json:"holders"`
		Intervals []failover.Interval `json:"intervals"`
	}
	var now ledger
	at := time.Now().UTC().Format(time.RFC3339Nano)
	cl.must(http.StatusOK, "GET", "/api/v1/ledger?camera=rec-03/cam-01&at="+at, nil, &now)
	if len(now.Holders) != 1 || now.Holders[0].Server != took.Peer || now.Holders[0].For != "rec-03" {
		t.Fatalf("holders now: %+v", now.Holders)
	}
	own := slices.IndexFunc(now.Intervals, func(iv failover.Interval) bool { return iv.Server == "rec-03" })
	if own < 0 || now.Intervals[own].To.IsZero() || now.Intervals[own].To.After(time.Now()) {
		t.Fatalf("rec-03's own interval is not closed: %+v", now.Intervals)
	}
	var then ledger
	cl.must(http.StatusOK, "GET", "/api/v1/ledger?camera=rec-03/cam-01&at="+now.Intervals[own].From.UTC().Format(time.RFC3339Nano), nil, &then)
	if len(then.Holders) != 1 || then.Holders[0].Server != "rec-03" {
		t.Fatalf("holders before the crash: %+v", then.Holders)
	}
	var gap ledger
	cl.must(http.StatusOK, "GET", "/api/v1/ledger?camera=rec-03/cam-01&at="+before.Add(-time.Hour).UTC().Format(time.RFC3339Nano), nil, &gap)
	if gap.Holders == nil || len(gap.Holders) != 0 {
		t.Fatalf("holders an hour before the center started: %+v, want none", gap.Holders)
	}
	if code, _ := cl.do("GET", "/api/v1/ledger?camera=rec-03/cam-01&at=yesterday", nil, nil); code != http.StatusBadRequest {
		t.Fatalf("a bad time: %d", code)
	}

	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-03/restore", map[string]any{}, nil)
	e.waitEvent("the failback of rec-03", func(ev failover.Event) bool {
		return ev.Kind == failover.EventFailbackCompleted && ev.Server == "rec-03"
	})
	e.waitEvent("rec-03 protected again", func(ev failover.Event) bool {
		return ev.Kind == failover.EventStatusChanged && ev.Server == "rec-03" && ev.To == "Normal, protected"
	})
	if st := cl.member("rec-03").Status; st.Code != "normal-protected" {
		t.Fatalf("rec-03 after the failback: %+v", st)
	}
}

// The demo's crash and restore show in the timeline under their own kinds.
func TestDemoEventKinds(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-05/crash", map[string]any{}, nil)
	cl.must(http.StatusNoContent, "POST", "/api/v1/demo/servers/rec-05/restore", map[string]any{}, nil)
	var recent struct {
		Events []center.Event `json:"events"`
	}
	cl.must(http.StatusOK, "GET", "/api/v1/events/recent", nil, &recent)
	var kinds []string
	for _, ev := range recent.Events {
		if ev.User == "admin" && ev.Server == "rec-05" {
			kinds = append(kinds, ev.Kind)
		}
	}
	if !slices.Equal(kinds, []string{"demo-crash", "demo-restore"}) {
		t.Fatalf("the demo's operations on rec-05 show as %q, want demo-crash, demo-restore", kinds)
	}
}

func TestEnableDisableAndRemove(t *testing.T) {
	e := newEnv(t)
	cl := e.login("operator", otherPassword)
	cl.must(http.StatusOK, "POST", "/api/v1/servers/rec-02/disable", map[string]any{}, nil)
	if st := cl.member("rec-02").Status; st.Label != "Disabled" || st.Description != "This recording server is disabled in the Failover Group." {
		t.Fatalf("rec-02 disabled: %+v", st)
	}
	cl.must(http.StatusOK, "POST", "/api/v1/servers/rec-02/enable", map[string]any{}, nil)
	if m := cl.member("rec-02"); !m.Enabled {
		t.Fatal("rec-02 still disabled")
	}
	if code, _ := cl.do("POST", "/api/v1/servers/nobody/disable", map[string]any{}, nil); code != http.StatusNotFound {
		t.Fatalf("disable an unknown server: %d", code)
	}

	cl.must(http.StatusOK, "POST", "/api/v1/groups/1/recording-servers/remove", map[string]any{"servers": []string{"rec-14"}}, nil)
	rm := "/api/v1/groups/1/standby-servers/remove"
	body := map[string]any{"servers": []string{"standby-2"}}
	if code, _ := cl.do("POST", rm, body, nil); code != http.StatusForbidden {
		t.Fatalf("remove a standby unverified: %d", code)
	}
	wrong := cl.approval(failover.OpRemoveStandbyServers, 1, "standby-1")
	if code, _ := cl.do("POST", rm, body, nil, "Nvrha-Approval", wrong); code != http.StatusForbidden {
		t.Fatalf("remove standby-2 with standby-1's approval: %d", code)
	}
	del := cl.approval(failover.OpDeleteGroup, 1)
	if code, _ := cl.do("POST", rm, body, nil, "Nvrha-Approval", del); code != http.StatusForbidden {
		t.Fatalf("remove a standby with a deletion's approval: %d", code)
	}
	var g center.GroupView
	cl.must(http.StatusOK, "POST", rm, body, &g, "Nvrha-Approval", cl.approval(failover.OpRemoveStandbyServers, 1, "standby-2"))
	if len(g.StandbyServers) != 1 || len(g.RecordingServers) != 13 {
		t.Fatalf("after the removals: %d recording, %d standby", len(g.RecordingServers), len(g.StandbyServers))
	}
}

// logRecorder keeps every record a logger handles.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// A server not yet probed is being checked: it is not logged, shown or
// streamed as abnormal.
func TestNotProbedIsCheckingNotAbnormal(t *testing.T) {
	rec := &logRecorder{}
	e := startEnv(t, demo.New(), filepath.Join(t.TempDir(), "state.json"), slog.New(rec))
	cl := e.login("admin", adminPassword)
	s := e.stream(cl, "")
	if err := e.fleet.Populate(context.Background(), e.c.Controller()); err != nil {
		t.Fatal(err)
	}
	// Every server joins unprobed; wait until each has been shown working.
	working := map[nvrha.ServerID]bool{}
	s.waitFor(t, "every server working", func(ev center.Event) bool {
		if ev.Kind == failover.EventStatusChanged.String() && strings.HasPrefix(ev.To, "Normal") {
			working[ev.Server] = true
		}
		return len(working) == 16
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var buf bytes.Buffer
	for _, r := range rec.records {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.Key + "=" + a.Value.String()
			return true
		})
		buf.WriteString(line + "\n")
		if r.Level >= slog.LevelInfo && strings.Contains(line, "Abnormal") {
			t.Errorf("logged at %v before any server failed: %s", r.Level, line)
		}
	}
	sc := bufio.NewScanner(&buf)
	checking := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "from=Checking") {
			checking++
		}
	}
	if checking < 16 {
		t.Errorf("%d servers logged as coming out of Checking, want all 16:\n%s", checking, buf.String())
	}
}

func TestStatusTablesAndPage(t *testing.T) {
	e := newEnv(t)
	cl := e.login("admin", adminPassword)
	var tables struct {
		Recording []center.StatusView `json:"recording"`
		Standby   []center.StatusView `json:"standby"`
		Checking  center.StatusView   `json:"checking"`
	}
	cl.must(http.StatusOK, "GET", "/api/v1/statuses", nil, &tables)
	if len(tables.Recording) != 5 || len(tables.Standby) != 6 || tables.Checking.Code != "checking" {
		t.Fatalf("tables: %+v", tables)
	}
	if r := tables.Recording[1]; r.Label != "Normal, unprotected" || !strings.Contains(r.Description, "does not have enough licensed channel quota") {
		t.Fatalf("Normal, unprotected: %+v", r)
	}
	if s := tables.Standby[2]; s.Label != "Warning" || s.Description != "This standby server is functional, but is unable to take over recording server because it does not have a recording space." {
		t.Fatalf("Warning: %+v", s)
	}
	code, raw := cl.do("GET", "/api/v1/nothing", nil, nil)
	if code != http.StatusNotFound || errorOf(t, raw).Code != "not_found" {
		t.Fatalf("unknown operation: %d %s", code, raw)
	}
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); res.StatusCode != http.StatusOK || !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("page: %d, CSP %q", res.StatusCode, csp)
	}
	var recent struct {
		Events []center.Event `json:"events"`
	}
	cl.must(http.StatusOK, "GET", "/api/v1/events/recent", nil, &recent)
	if len(recent.Events) == 0 || recent.Events[len(recent.Events)-1].Kind == "" {
		t.Fatalf("recent events: %+v", recent.Events)
	}
	for _, ev := range recent.Events {
		if ev.Kind == "status-changed" && (ev.From == "" || strings.HasPrefix(ev.To, "Abnormal")) {
			t.Errorf("a start-up event shows a failure or comes from nowhere: %+v", ev)
		}
	}
}

// TestCenterAppendsChanges: behind the metered store the Controller still
// writes changes: an acknowledged AddGroup is in the state file's log, the
// state file itself written once, at the start.
func TestCenterAppendsChanges(t *testing.T) {
	e := newEnv(t)
	e.login("admin", adminPassword).addGroup("Annex")
	log, err := os.ReadFile(e.store + ".log")
	if err != nil || !bytes.Contains(log, []byte(`"name":"Annex"`)) {
		t.Fatalf("the state file's log does not hold the new group (%v): %q", err, log)
	}
	st, err := failover.NewFileStore(e.store).Load(context.Background())
	if err != nil || len(st.Groups) != 2 || st.Groups[1].Name != "Annex" {
		t.Fatalf("the store loads groups %+v, %v", st.Groups, err)
	}
}

// A restart of the center over a healthy fleet raises no alarm: each
// server shows as Checking until the center knows its status, then moves
// once, from Checking to that status. A recording server does not show as
// unprotected while its group's standbys wait for their first probe.
func TestRestartRaisesNoStatusNoise(t *testing.T) {
	first := newEnv(t)
	final := map[nvrha.ServerID]string{"standby-1": "Normal, protection ready", "standby-2": "Normal, protection ready"}
	for i := 1; i <= 14; i++ {
		final[nvrha.ServerID(fmt.Sprintf("rec-%02d", i))] = "Normal, protected"
	}
	settled := map[nvrha.ServerID]bool{}
	first.waitEvent("every server of the default group settled", func(ev failover.Event) bool {
		if ev.Kind == failover.EventStatusChanged && ev.To == final[ev.Server] {
			settled[ev.Server] = true
		}
		return len(settled) == len(final)
	})
	first.stop()

	rec := &logRecorder{}
	second := startEnv(t, first.fleet, first.store, slog.New(rec))
	cl := second.login("admin", adminPassword)
	s := second.stream(cl, "")
	moves := map[nvrha.ServerID][]center.Event{}
	s.waitFor(t, "every server's status", func(ev center.Event) bool {
		if ev.Kind == failover.EventStatusChanged.String() {
			moves[ev.Server] = append(moves[ev.Server], ev)
		}
		return len(moves) == len(final)
	})
	var recent struct {
		Events []center.Event `json:"events"`
	}
	cl.must(http.StatusOK, "GET", "/api/v1/events/recent", nil, &recent)
	statusEvents := 0
	for _, ev := range recent.Events {
		if ev.Kind == failover.EventStatusChanged.String() {
			statusEvents++
		}
	}
	for id, want := range final {
		if evs := moves[id]; len(evs) != 1 || evs[0].From != "Checking" || evs[0].To != want {
			t.Errorf("%s after the restart: %+v, want one move from Checking to %s", id, evs, want)
		}
	}
	if statusEvents != len(final) {
		t.Errorf("%d status events after the restart, want %d: %+v", statusEvents, len(final), recent.Events)
	}
	noAlarmLogged(t, rec, "after a restart over a healthy fleet")
}

// TestDemoStartRaisesNoStatusNoise: the demo's first start fills the
// default group of an empty center; each server moves once, from
// Checking to its final status, and no recording server shows "Normal,
// unprotected" on the way (its standbys join first, and it is held at
// Checking until they have answered).
func TestDemoStartRaisesNoStatusNoise(t *testing.T) {
	rec := &logRecorder{}
	e := startEnv(t, demo.New(), filepath.Join(t.TempDir(), "state.json"), slog.New(rec))
	cl := e.login("admin", adminPassword)
	s := e.stream(cl, "")
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := e.fleet.Populate(pctx, e.c.Controller()); err != nil {
		t.Fatal(err)
	}
	final := map[nvrha.ServerID]string{"standby-1": "Normal, protection ready", "standby-2": "Normal, protection ready"}
	for i := 1; i <= 14; i++ {
		final[nvrha.ServerID(fmt.Sprintf("rec-%02d", i))] = "Normal, protected"
	}
	moves := map[nvrha.ServerID][]center.Event{}
	settled := map[nvrha.ServerID]bool{}
	s.waitFor(t, "every server's final status", func(ev center.Event) bool {
		if ev.Kind == failover.EventStatusChanged.String() {
			moves[ev.Server] = append(moves[ev.Server], ev)
			if ev.To == final[ev.Server] {
				settled[ev.Server] = true
			}
		}
		return len(settled) == len(final)
	})
	for id, want := range final {
		if evs := moves[id]; len(evs) != 1 || evs[0].From != "Checking" || evs[0].To != want {
			t.Errorf("%s at the demo's start: %+v, want one move from Checking to %s", id, evs, want)
		}
	}
	noAlarmLogged(t, rec, "at the demo's start")
}

// noAlarmLogged fails t for every record at INFO or above that says
// "unprotected" or "Abnormal": what an alert on the log would fire on.
func noAlarmLogged(t *testing.T, rec *logRecorder, when string) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.records {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool {
			line += " " + a.Key + "=" + a.Value.String()
			return true
		})
		if r.Level >= slog.LevelInfo && (strings.Contains(line, "unprotected") || strings.Contains(line, "Abnormal")) {
			t.Errorf("logged at %v %s: %s", r.Level, when, line)
		}
	}
}
