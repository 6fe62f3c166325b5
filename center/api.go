package center

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
)

// route is one operation of the admin API, or one of the plain endpoints.
// The OpenAPI document lists exactly these; a test keeps them in step.
type route struct {
	method, pattern string
	handle          func(c *Center, w http.ResponseWriter, r *http.Request, user string)
	// public routes need no session.
	public bool
	// demo routes exist only when Config.Demo is set.
	demo bool
}

// apiRoutes are the admin API's operations.
var apiRoutes = []route{
	{method: "GET", pattern: "/api/v1/session", handle: (*Center).getSession, public: true},
	{method: "POST", pattern: "/api/v1/session", handle: (*Center).login, public: true},
	{method: "DELETE", pattern: "/api/v1/session", handle: (*Center).logout, public: true},
	{method: "GET", pattern: "/api/v1/statuses", handle: (*Center).getStatuses},
	{method: "GET", pattern: "/api/v1/groups", handle: (*Center).listGroups},
	{method: "POST", pattern: "/api/v1/groups", handle: (*Center).addGroup},
	{method: "GET", pattern: "/api/v1/groups/{group}", handle: (*Center).getGroup},
	{method: "PATCH", pattern: "/api/v1/groups/{group}", handle: (*Center).renameGroup},
	{method: "DELETE", pattern: "/api/v1/groups/{group}", handle: (*Center).deleteGroup},
	{method: "PUT", pattern: "/api/v1/groups/{group}/protection", handle: (*Center).setProtection},
	{method: "GET", pattern: "/api/v1/groups/{group}/candidates", handle: (*Center).candidates},
	{method: "POST", pattern: "/api/v1/groups/{group}/recording-servers", handle: (*Center).addRecording},
	{method: "POST", pattern: "/api/v1/groups/{group}/recording-servers/remove", handle: (*Center).removeRecording},
	{method: "POST", pattern: "/api/v1/groups/{group}/standby-servers", handle: (*Center).addStandby},
	{method: "POST", pattern: "/api/v1/groups/{group}/standby-servers/remove", handle: (*Center).removeStandby},
	{method: "GET", pattern: "/api/v1/servers/{server}", handle: (*Center).getServer},
	{method: "POST", pattern: "/api/v1/servers/{server}/enable", handle: (*Center).enableServer},
	{method: "POST", pattern: "/api/v1/servers/{server}/disable", handle: (*Center).disableServer},
	{method: "POST", pattern: "/api/v1/servers/{server}/failback", handle: (*Center).failback},
	{method: "POST", pattern: "/api/v1/approvals", handle: (*Center).approve},
	{method: "GET", pattern: "/api/v1/ledger", handle: (*Center).ledger},
	{method: "GET", pattern: "/api/v1/events", handle: (*Center).eventStream},
	{method: "GET", pattern: "/api/v1/events/recent", handle: (*Center).recentEvents},
	{method: "POST", pattern: "/api/v1/demo/servers/{server}/crash", handle: (*Center).demoCrash, demo: true},
	{method: "POST", pattern: "/api/v1/demo/servers/{server}/restore", handle: (*Center).demoRestore, demo: true},
}

// plainRoutes are served beside the API.
var plainRoutes = []route{
	{method: "GET", pattern: "/metrics", public: true},
	{method: "GET", pattern: "/healthz", handle: (*Center).healthz, public: true},
	{method: "GET", pattern: "/readyz", handle: (*Center).readyz, public: true},
}

const maxRequestBody = 64 << 10

func (c *Center) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range apiRoutes {
		if rt.demo && c.cfg.Demo == nil {
			continue
		}
		mux.Handle(rt.method+" "+rt.pattern, c.api(rt))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.cfg.Registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{c}}))
	for _, rt := range plainRoutes[1:] {
		h := rt.handle
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) { h(c, w, r, "") })
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such operation: "+r.Method+" "+r.URL.Path)
	})
	static, _ := fs.Sub(webFiles, "web")
	files := http.FileServerFS(static)
	mux.Handle("/", securePage(files))
	return mux
}

type slogPrinter struct{ c *Center }

func (p slogPrinter) Println(v ...any) { p.c.log.Warn("center: metrics", "err", fmt.Sprint(v...)) }

// securePage sets the headers that keep the page to its own files.
func securePage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// api authenticates a request and checks what a cross-site request could
// not send (a JSON body) before a route that changes anything.
func (c *Center) api(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/json" {
				writeError(w, http.StatusUnsupportedMediaType, "bad_request", "send a JSON body with Content-Type: application/json")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		}
		user := ""
		if !rt.public {
			var ok bool
			if user, ok = c.auth.session(sessionOf(r)); !ok {
				writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first")
				return
			}
		}
		rt.handle(c, w, r, user)
	})
}

func sessionOf(r *http.Request) string {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return ck.Value
}

// apiError is the body of every error response.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Refused lists every server of a refused Add with all its reasons.
	Refused []Refusal `json:"refused,omitempty"`
}

// Refusal is one server an Add refused, with every rule it failed.
type Refusal struct {
	Server  nvrha.ServerID      `json:"server"`
	Reasons eligibility.Reasons `json:"reasons"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, kind, msg string) {
	writeJSON(w, code, apiError{Error: errorBody{Code: kind, Message: msg}})
}

// errorMapping answers any of errs with status and code.
type errorMapping struct {
	errs   []error
	status int
	code   string
}

// apiErrors maps the errors an operation returns to the status and code
// that say what the caller can do about them, in order: the first whose
// errors err matches wins.
var apiErrors = []errorMapping{
	{[]error{failover.ErrIneligible}, http.StatusUnprocessableEntity, "ineligible"},
	{[]error{nvrha.ErrInvalidFacts}, http.StatusUnprocessableEntity, "invalid_facts"},
	{[]error{failover.ErrGroupNotFound, failover.ErrServerNotFound}, http.StatusNotFound, "not_found"},
	{[]error{failover.ErrNotMember}, http.StatusConflict, "not_member"},
	{[]error{failover.ErrInTakeover}, http.StatusConflict, "in_takeover"},
	{[]error{failover.ErrNotTakenOver}, http.StatusConflict, "not_taken_over"},
	{[]error{failover.ErrNotRecovered}, http.StatusConflict, "not_recovered"},
	{[]error{failover.ErrNotRecordingServer}, http.StatusConflict, "not_recording_server"},
	{[]error{failover.ErrFailbackBusy}, http.StatusConflict, "failback_busy"},
	{[]error{failover.ErrDefaultGroup, failover.ErrDuplicateGroupName, failover.ErrTooManyGroups, failover.ErrFactsChanged},
		http.StatusConflict, "conflict"},
	{[]error{failover.ErrInvalidGroupName, failover.ErrEmptyBatch, failover.ErrDuplicateServer, failover.ErrInvalidPriority,
		nvrha.ErrInvalidID, errBadRequest}, http.StatusBadRequest, "bad_request"},
	{[]error{ErrTooManyAttempts}, http.StatusTooManyRequests, "too_many_attempts"},
	{[]error{ErrApprovalInvalid, failover.ErrVerificationFailed, ErrBadCredentials}, http.StatusForbidden, "verification_failed"},
	{[]error{failover.ErrVerificationRequired}, http.StatusForbidden, "verification_required"},
	{[]error{failover.ErrStoreFailing}, http.StatusServiceUnavailable, "store_failing"},
	// Before the deadline: the change stands, so the caller must read it
	// back rather than send it again.
	{[]error{failover.ErrSavePending}, http.StatusServiceUnavailable, "save_pending"},
	{[]error{failover.ErrTermRevoked}, http.StatusServiceUnavailable, "not_leader"},
	{[]error{failover.ErrControllerStopped, context.DeadlineExceeded, errUnavailable}, http.StatusServiceUnavailable, "unavailable"},
}

// mapError returns the first of apiErrors that err matches.
func mapError(err error) (errorMapping, bool) {
	for _, m := range apiErrors {
		for _, target := range m.errs {
			if errors.Is(err, target) {
				return m, true
			}
		}
	}
	return errorMapping{}, false
}

// fail answers err with the status and code that say what the caller can
// do about it (apiErrors). Every error an operation returns for a reason
// the caller can act on has its own status; 500 is left for a bug, and
// only it is logged as an error.
func (c *Center) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rej *failover.RejectedError
	var body errorBody
	code := http.StatusInternalServerError
	switch m, ok := mapError(err); {
	case errors.As(err, &rej):
		code, body.Code = http.StatusUnprocessableEntity, "ineligible"
		for _, s := range rej.Servers {
			body.Refused = append(body.Refused, Refusal{Server: s.Server, Reasons: s.Reasons})
		}
	case ok:
		code, body.Code = m.status, m.code
	case r.Context().Err() != nil:
		code, body.Code = 499, "canceled"
	default:
		body.Code = "internal"
		c.log.Error("center: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == http.StatusServiceUnavailable && body.Code != "save_pending" {
		w.Header().Set("Retry-After", "5")
	}
	body.Message = err.Error()
	writeJSON(w, code, apiError{Error: body})
}

var (
	errBadRequest  = errors.New("center: bad request")
	errUnavailable = errors.New("center: unavailable")
)

// decode reads a JSON body into v, refusing unknown fields and trailing
// data.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %w", errBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: data after the JSON object", errBadRequest)
	}
	return nil
}

func groupParam(r *http.Request) (failover.GroupID, error) {
	n, err := strconv.ParseUint(r.PathValue("group"), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: group %q is not a group ID", errBadRequest, r.PathValue("group"))
	}
	return failover.GroupID(n), nil
}

// groupAndBody reads a request about one group: the group's ID from the
// path and the JSON body into a T.
func groupAndBody[T any](r *http.Request) (failover.GroupID, T, error) {
	var body T
	id, err := groupParam(r)
	if err == nil {
		err = decode(r, &body)
	}
	return id, body, err
}

func serverParam(r *http.Request) (nvrha.ServerID, error) {
	id := nvrha.ServerID(r.PathValue("server"))
	if err := id.Validate(); err != nil {
		return "", fmt.Errorf("%w: server: %w", errBadRequest, err)
	}
	return id, nil
}

// opContext bounds an admin operation: one that waits on a Store that keeps
// failing must not hold the request for ever.
func opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 15*time.Second)
}

// --- session ---

type sessionView struct {
	User       string `json:"user"`
	FirstAdmin string `json:"first_admin"`
	Demo       bool   `json:"demo"`
}

func (c *Center) getSession(w http.ResponseWriter, r *http.Request, _ string) {
	user, ok := c.auth.session(sessionOf(r))
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first")
		return
	}
	writeJSON(w, http.StatusOK, sessionView{User: user, FirstAdmin: c.auth.firstAdmin(), Demo: c.cfg.Demo != nil})
}

func (c *Center) login(w http.ResponseWriter, r *http.Request, _ string) {
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	tok, err := c.auth.login(req.User, req.Password)
	if err != nil {
		c.log.Warn("center: login refused", "user", req.User, "err", err)
		if errors.Is(err, ErrBadCredentials) {
			writeError(w, http.StatusUnauthorized, "unauthenticated", err.Error())
			return
		}
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: c.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	c.events.admin(c.now(), req.User, "login", 0, "", req.User+" logged in")
	writeJSON(w, http.StatusOK, sessionView{User: req.User, FirstAdmin: c.auth.firstAdmin(), Demo: c.cfg.Demo != nil})
}

func (c *Center) logout(w http.ResponseWriter, r *http.Request, _ string) {
	c.auth.logout(sessionOf(r))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// --- groups ---

func (c *Center) getStatuses(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, statusTables())
}

func (c *Center) snapshot(r *http.Request) (failover.Snapshot, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	return c.ctl.Snapshot(ctx)
}

type groupsView struct {
	Groups []GroupView `json:"groups"`
	// LastEvent is the ID of the newest event when the groups were read:
	// a page that streams events from it misses nothing.
	LastEvent uint64 `json:"last_event"`
}

func (c *Center) listGroups(w http.ResponseWriter, r *http.Request, _ string) {
	last := c.events.latest()
	snap, err := c.snapshot(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := groupsView{Groups: make([]GroupView, 0, len(snap.Groups)), LastEvent: last}
	held := c.events.heldSince()
	for _, g := range snap.Groups {
		v.Groups = append(v.Groups, c.viewGroup(g, held))
	}
	writeJSON(w, http.StatusOK, v)
}

func (c *Center) getGroup(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := groupParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	snap, err := c.snapshot(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	g, ok := snap.Group(id)
	if !ok {
		c.fail(w, r, fmt.Errorf("%w: %d", failover.ErrGroupNotFound, id))
		return
	}
	writeJSON(w, http.StatusOK, c.viewGroup(g, c.events.heldSince()))
}

type nameRequest struct {
	Name string `json:"name"`
}

func (c *Center) addGroup(w http.ResponseWriter, r *http.Request, user string) {
	var req nameRequest
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	id, err := c.ctl.AddGroup(ctx, req.Name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "group-added", id, "", fmt.Sprintf("%s added Failover Group %q", user, req.Name))
	c.respondGroup(w, r, id, http.StatusCreated)
}

func (c *Center) respondGroup(w http.ResponseWriter, r *http.Request, id failover.GroupID, code int) {
	snap, err := c.snapshot(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	g, ok := snap.Group(id)
	if !ok {
		c.fail(w, r, fmt.Errorf("%w: %d", failover.ErrGroupNotFound, id))
		return
	}
	writeJSON(w, code, c.viewGroup(g, c.events.heldSince()))
}

func (c *Center) renameGroup(w http.ResponseWriter, r *http.Request, user string) {
	id, req, err := groupAndBody[nameRequest](r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	if err := c.ctl.RenameGroup(ctx, id, req.Name); err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "group-renamed", id, "", fmt.Sprintf("%s renamed group %d to %q", user, id, req.Name))
	c.respondGroup(w, r, id, http.StatusOK)
}

// approvalHeader carries the token of a first-admin verification.
const approvalHeader = "Nvrha-Approval"

// verifier checks that the request carries an approval for exactly this
// operation, and uses it up.
func (c *Center) verifier(r *http.Request, op failover.Operation, group failover.GroupID, servers []nvrha.ServerID) failover.FirstAdminVerifier {
	return failover.VerifierFunc(func(context.Context) error {
		tok := r.Header.Get(approvalHeader)
		if tok == "" {
			return fmt.Errorf("%w: no %s header; verify as the first admin user first (POST /api/v1/approvals)", ErrApprovalInvalid, approvalHeader)
		}
		return c.auth.consume(tok, sessionOf(r), op, group, servers)
	})
}

type takeoversView struct {
	// Interrupted lists the recording servers whose takeover the
	// operation ended.
	Interrupted []nvrha.ServerID `json:"interrupted"`
}

func interrupted(tks []failover.Takeover) takeoversView {
	v := takeoversView{Interrupted: []nvrha.ServerID{}}
	for _, t := range tks {
		v.Interrupted = append(v.Interrupted, t.Recording)
	}
	return v
}

func (c *Center) deleteGroup(w http.ResponseWriter, r *http.Request, user string) {
	id, err := groupParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	tks, err := c.ctl.DeleteGroup(ctx, id, c.verifier(r, failover.OpDeleteGroup, id, nil))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "group-deleted", id, "", fmt.Sprintf("%s deleted group %d", user, id))
	writeJSON(w, http.StatusOK, interrupted(tks))
}

func (c *Center) setProtection(w http.ResponseWriter, r *http.Request, user string) {
	id, req, err := groupAndBody[struct {
		On *bool `json:"on"`
	}](r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if req.On == nil {
		c.fail(w, r, fmt.Errorf("%w: \"on\" is required", errBadRequest))
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	if _, err := c.ctl.SetProtection(ctx, id, *req.On); err != nil {
		c.fail(w, r, err)
		return
	}
	word := "off"
	if *req.On {
		word = "on"
	}
	c.events.admin(c.now(), user, "protection-"+word, id, "", fmt.Sprintf("%s switched Failover Protection of group %d %s", user, id, word))
	c.respondGroup(w, r, id, http.StatusOK)
}

// --- servers of a group ---

type serversRequest struct {
	Servers []nvrha.ServerID `json:"servers"`
}

func (req serversRequest) check() error {
	if len(req.Servers) == 0 {
		return fmt.Errorf("%w: %w", errBadRequest, failover.ErrEmptyBatch)
	}
	for _, id := range req.Servers {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("%w: server %q: %w", errBadRequest, id, err)
		}
	}
	return nil
}

// facts reads the servers' facts through the transport, concurrently. A
// server that cannot be reached is a refusal of its own.
func (c *Center) facts(ctx context.Context, ids []nvrha.ServerID) ([]nvrha.Facts, []Refusal) {
	out := make([]nvrha.Facts, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			out[i], errs[i] = c.tr.next.Inventory(fctx, id)
			if errs[i] == nil && out[i].ID != id {
				errs[i] = fmt.Errorf("it answered as %q", out[i].ID)
			}
		})
	}
	wg.Wait()
	var refused []Refusal
	for i, err := range errs {
		if err != nil {
			refused = append(refused, Refusal{Server: ids[i], Reasons: eligibility.Reasons{{Code: CodeUnreachable,
				Message: fmt.Sprintf("The center cannot read the facts of %s: %v.", ids[i], err)}}})
		}
	}
	return out, refused
}

func (c *Center) addServers(w http.ResponseWriter, r *http.Request, user string, role failover.Role) {
	id, req, err := groupAndBody[serversRequest](r)
	if err == nil {
		err = req.check()
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	facts, unreachable := c.facts(ctx, req.Servers)
	if len(unreachable) > 0 {
		// Every other refusal too, so that the dialog shows them all at
		// once: the Machine judges the servers it can.
		var reachable []nvrha.Facts
		for i, f := range facts {
			if !slices.ContainsFunc(unreachable, func(u Refusal) bool { return u.Server == req.Servers[i] }) {
				reachable = append(reachable, f)
			}
		}
		refused := unreachable
		if len(reachable) > 0 {
			refused = append(refused, c.wouldRefuse(r, id, role, reachable)...)
		}
		slices.SortStableFunc(refused, func(a, b Refusal) int {
			return slices.Index(req.Servers, a.Server) - slices.Index(req.Servers, b.Server)
		})
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: errorBody{Code: "ineligible",
			Message: fmt.Sprintf("%d server(s) cannot be added; nothing was added", len(refused)), Refused: refused}})
		return
	}
	if role == failover.RoleStandby {
		err = c.ctl.AddStandbyServers(ctx, id, facts...)
	} else {
		err = c.ctl.AddRecordingServers(ctx, id, facts...)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "servers-added", id, "", fmt.Sprintf("%s added %s as %s server(s) of group %d", user, joinIDs(req.Servers), role, id))
	c.respondGroup(w, r, id, http.StatusOK)
}

// wouldRefuse asks the eligibility rules about servers whose facts are
// known, as the Machine would, without adding any.
func (c *Center) wouldRefuse(r *http.Request, id failover.GroupID, role failover.Role, facts []nvrha.Facts) []Refusal {
	snap, err := c.snapshot(r)
	if err != nil {
		return nil
	}
	var refused []Refusal
	for _, f := range facts {
		if rs := c.check(snap, id, role, f); len(rs) > 0 {
			refused = append(refused, Refusal{Server: f.ID, Reasons: rs})
		}
	}
	return refused
}

// check runs the eligibility rules for f joining group id in role.
func (c *Center) check(snap failover.Snapshot, id failover.GroupID, role failover.Role, f nvrha.Facts) eligibility.Reasons {
	cand := eligibility.Candidate{Facts: f}
	g := eligibility.Group{Platform: c.machine.Platform}
	for _, gs := range snap.Groups {
		for _, ms := range gs.Members {
			if ms.ID == f.ID {
				cand.CurrentGroup = gs.Name
			}
			if gs.ID == id && ms.Role == failover.RoleRecording {
				g.RecordingServers = append(g.RecordingServers, nvrha.Facts{ID: ms.ID, LicenseChannels: ms.LicenseChannels})
			}
		}
		if gs.ID == id {
			g.Name = gs.Name
			g.Members = len(gs.Members)
		}
	}
	if role == failover.RoleStandby {
		return c.machine.Rules.CheckStandby(cand, g)
	}
	return c.machine.Rules.CheckRecording(cand, g)
}

func joinIDs(ids []nvrha.ServerID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

func (c *Center) addRecording(w http.ResponseWriter, r *http.Request, user string) {
	c.addServers(w, r, user, failover.RoleRecording)
}

func (c *Center) addStandby(w http.ResponseWriter, r *http.Request, user string) {
	c.addServers(w, r, user, failover.RoleStandby)
}

func (c *Center) removeServers(w http.ResponseWriter, r *http.Request, user string, role failover.Role) {
	id, req, err := groupAndBody[serversRequest](r)
	if err == nil {
		err = req.check()
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	if role == failover.RoleStandby {
		err = c.ctl.RemoveStandbyServers(ctx, id, c.verifier(r, failover.OpRemoveStandbyServers, id, req.Servers), req.Servers...)
	} else {
		err = c.ctl.RemoveRecordingServers(ctx, id, req.Servers...)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "servers-removed", id, "", fmt.Sprintf("%s removed %s server(s) %s from group %d", user, role, joinIDs(req.Servers), id))
	c.respondGroup(w, r, id, http.StatusOK)
}

func (c *Center) removeRecording(w http.ResponseWriter, r *http.Request, user string) {
	c.removeServers(w, r, user, failover.RoleRecording)
}

func (c *Center) removeStandby(w http.ResponseWriter, r *http.Request, user string) {
	c.removeServers(w, r, user, failover.RoleStandby)
}

type candidatesView struct {
	Group      failover.GroupID `json:"group"`
	Role       string           `json:"role"`
	Candidates []Candidate      `json:"candidates"`
}

// candidates lists the servers the center knows that are not members of
// the group, each with every reason it may not join in the role asked.
func (c *Center) candidates(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := groupParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	role := failover.RoleRecording
	switch r.URL.Query().Get("role") {
	case "recording":
	case "standby":
		role = failover.RoleStandby
	default:
		c.fail(w, r, fmt.Errorf("%w: role must be recording or standby", errBadRequest))
		return
	}
	snap, err := c.snapshot(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	g, ok := snap.Group(id)
	if !ok {
		c.fail(w, r, fmt.Errorf("%w: %d", failover.ErrGroupNotFound, id))
		return
	}
	var ids []nvrha.ServerID
	for _, s := range c.servers {
		if !slices.ContainsFunc(g.Members, func(m failover.MemberSnapshot) bool { return m.ID == s }) {
			ids = append(ids, s)
		}
	}
	facts, unreachable := c.facts(r.Context(), ids)
	v := candidatesView{Group: id, Role: role.String(), Candidates: []Candidate{}}
	for i, sid := range ids {
		cand := Candidate{ID: sid, Name: string(sid)}
		if j := slices.IndexFunc(unreachable, func(u Refusal) bool { return u.Server == sid }); j >= 0 {
			cand.Reasons = unreachable[j].Reasons
		} else {
			f := facts[i]
			cand.Reachable = true
			cand.Name = f.DisplayName()
			cand.LicenseChannels = f.LicenseChannels
			cand.Cameras = len(f.Cameras)
			cand.Reasons = c.check(snap, id, role, f)
		}
		for _, gs := range snap.Groups {
			if slices.ContainsFunc(gs.Members, func(m failover.MemberSnapshot) bool { return m.ID == sid }) {
				cand.CurrentGroup = gs.Name
			}
		}
		cand.Eligible = len(cand.Reasons) == 0
		if cand.Reasons == nil {
			cand.Reasons = eligibility.Reasons{}
		}
		v.Candidates = append(v.Candidates, cand)
	}
	writeJSON(w, http.StatusOK, v)
}

// --- one server ---

type serverView struct {
	Group     failover.GroupID `json:"group"`
	GroupName string           `json:"group_name"`
	MemberView
}

func (c *Center) getServer(w http.ResponseWriter, r *http.Request, _ string) {
	id, err := serverParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	snap, err := c.snapshot(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, g := range snap.Groups {
		for _, ms := range g.Members {
			if ms.ID == id {
				writeJSON(w, http.StatusOK, serverView{Group: g.ID, GroupName: g.Name, MemberView: c.viewMember(ms, c.events.heldSince())})
				return
			}
		}
	}
	c.fail(w, r, fmt.Errorf("%w: %s", failover.ErrServerNotFound, id))
}

func (c *Center) setEnabled(w http.ResponseWriter, r *http.Request, user string, on bool) {
	id, err := serverParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := decode(r, &struct{}{}); err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	tks, err := c.ctl.SetServerEnabled(ctx, id, on)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	kind, word := "server-disabled", "disabled"
	if on {
		kind, word = "server-enabled", "enabled"
	}
	c.events.admin(c.now(), user, kind, 0, id, fmt.Sprintf("%s %s %s", user, word, id))
	writeJSON(w, http.StatusOK, interrupted(tks))
}

func (c *Center) enableServer(w http.ResponseWriter, r *http.Request, user string) {
	c.setEnabled(w, r, user, true)
}

func (c *Center) disableServer(w http.ResponseWriter, r *http.Request, user string) {
	c.setEnabled(w, r, user, false)
}

func (c *Center) failback(w http.ResponseWriter, r *http.Request, user string) {
	id, err := serverParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := decode(r, &struct{}{}); err != nil {
		c.fail(w, r, err)
		return
	}
	ctx, cancel := opContext(r)
	defer cancel()
	if err := c.ctl.Failback(ctx, id); err != nil {
		c.fail(w, r, err)
		return
	}
	c.events.admin(c.now(), user, "failback-requested", 0, id, fmt.Sprintf("%s started the failback of %s", user, id))
	w.WriteHeader(http.StatusAccepted)
}

// --- first-admin verification ---

type approvalRequest struct {
	Operation failover.Operation `json:"operation"`
	Group     failover.GroupID   `json:"group"`
	Servers   []nvrha.ServerID   `json:"servers,omitempty"`
	Password  string             `json:"password"`
}

type approvalView struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (c *Center) approve(w http.ResponseWriter, r *http.Request, user string) {
	var req approvalRequest
	if err := decode(r, &req); err != nil {
		c.fail(w, r, err)
		return
	}
	if req.Operation != failover.OpDeleteGroup && req.Operation != failover.OpRemoveStandbyServers {
		c.fail(w, r, fmt.Errorf("%w: operation must be %q or %q", errBadRequest, failover.OpDeleteGroup, failover.OpRemoveStandbyServers))
		return
	}
	if req.Operation == failover.OpRemoveStandbyServers && len(req.Servers) == 0 {
		c.fail(w, r, fmt.Errorf("%w: name the standby servers to remove", errBadRequest))
		return
	}
	tok, exp, err := c.auth.approve(sessionOf(r), req.Operation, req.Group, req.Servers, req.Password)
	if err != nil {
		c.log.Warn("center: first-admin verification failed", "user", user, "operation", string(req.Operation), "err", err)
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, approvalView{Token: tok, ExpiresAt: exp})
}

// --- ledger ---

type ledgerView struct {
	Camera nvrha.CameraID `json:"camera"`
	// At and Holders answer "which server held the camera at that time";
	// both are null when no time was asked.
	At        *time.Time          `json:"at"`
	Holders   []failover.Interval `json:"holders"`
	Intervals []failover.Interval `json:"intervals"`
}

func (c *Center) ledger(w http.ResponseWriter, r *http.Request, _ string) {
	cam := nvrha.CameraID(r.URL.Query().Get("camera"))
	if err := cam.Validate(); err != nil {
		c.fail(w, r, fmt.Errorf("%w: camera: %w", errBadRequest, err))
		return
	}
	v := ledgerView{Camera: cam}
	if s := r.URL.Query().Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			c.fail(w, r, fmt.Errorf("%w: at: want RFC 3339 time: %w", errBadRequest, err))
			return
		}
		v.At = &t
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	ivs, err := c.ctl.Ledger(ctx, cam)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v.Intervals = append([]failover.Interval{}, ivs...)
	if v.At != nil {
		v.Holders = []failover.Interval{}
		for _, iv := range ivs {
			if iv.Contains(*v.At) {
				v.Holders = append(v.Holders, iv)
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// --- events ---

func (c *Center) recentEvents(w http.ResponseWriter, _ *http.Request, _ string) {
	evs, _, _ := c.events.since(0)
	if evs == nil {
		evs = []Event{}
	}
	writeJSON(w, http.StatusOK, struct {
		Events []Event `json:"events"`
	}{evs})
}

// eventStream serves the events as server-sent events: each "event: event"
// with the Event as JSON and its ID as the SSE id, from after Last-Event-ID
// (or ?since=) when given, else from the oldest kept. An "event: reset"
// says that events were dropped before the stream could send them: read
// the groups again.
func (c *Center) eventStream(w http.ResponseWriter, r *http.Request, _ string) {
	var last uint64
	if s := r.Header.Get("Last-Event-ID"); s != "" {
		last, _ = strconv.ParseUint(s, 10, 64)
	} else if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			c.fail(w, r, fmt.Errorf("%w: since: %w", errBadRequest, err))
			return
		}
		last = n
	}
	select {
	case <-c.streamsEnd:
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the center is shutting down")
		return
	default:
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	_ = rc.Flush()
	c.metrics.streams.Inc()
	defer c.metrics.streams.Dec()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		evs, lost, wait := c.events.since(last)
		if lost {
			_, _ = io.WriteString(w, "event: reset\ndata: {}\n\n")
		}
		for _, e := range evs {
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: event\ndata: %s\n\n", e.ID, b); err != nil {
				return
			}
			last = e.ID
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if wait == nil {
			return // the center stopped
		}
		select {
		case <-wait:
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-c.streamsEnd:
			return
		}
	}
}

// --- demo ---

func (c *Center) demoCrash(w http.ResponseWriter, r *http.Request, user string) {
	c.demoDo(w, r, user, "demo-crash", "crashed", c.cfg.Demo.Crash)
}

func (c *Center) demoRestore(w http.ResponseWriter, r *http.Request, user string) {
	c.demoDo(w, r, user, "demo-restore", "restored", c.cfg.Demo.Restore)
}

func (c *Center) demoDo(w http.ResponseWriter, r *http.Request, user, kind, word string, fn func(nvrha.ServerID) error) {
	id, err := serverParam(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := decode(r, &struct{}{}); err != nil {
		c.fail(w, r, err)
		return
	}
	if err := fn(id); err != nil {
		c.fail(w, r, fmt.Errorf("%w: %w", failover.ErrServerNotFound, err))
		return
	}
	c.events.admin(c.now(), user, kind, 0, id, fmt.Sprintf("%s %s demo server %s", user, word, id))
	w.WriteHeader(http.StatusNoContent)
}

// --- health ---

func (c *Center) healthz(w http.ResponseWriter, _ *http.Request, _ string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// readyz is ready while the Controller runs, answers a snapshot and its
// last save succeeded.
func (c *Center) readyz(w http.ResponseWriter, r *http.Request, _ string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !c.running.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not running\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if _, err := c.ctl.Snapshot(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "controller not answering: "+err.Error()+"\n")
		return
	}
	if err := c.store.lastErr(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "last state save failed: "+err.Error()+"\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}
