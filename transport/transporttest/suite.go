package transporttest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// Harness connects the transport under test to agents.
type Harness struct {
	// New returns a transport through which each agents[id] is reachable
	// under id, and nothing else. It is called once per subtest; whatever it
	// starts it stops with t.Cleanup.
	New func(t *testing.T, agents map[nvrha.ServerID]transport.Agent) Network

	// Sentinels lists agent errors, besides the transport package's own,
	// that the transport carries so that errors.Is still holds after the
	// trip (an in-memory transport carries every error; a network transport
	// those it was told about). The suite checks each of them.
	Sentinels []error
}

// Network is one transport under test with its agents.
type Network struct {
	Transport transport.Transport
	// Kill makes id unreachable from now on, as a crash of the server or a
	// cut in the network would: later calls to id fail without reaching its
	// agent. Calls to other servers are not affected.
	Kill func(id nvrha.ServerID)
}

// methods lists every method of [transport.Transport], in a fixed order.
var methods = []transport.Method{
	transport.MethodProbe, transport.MethodInventory,
	transport.MethodTakeover, transport.MethodRelease,
	transport.MethodStandDown, transport.MethodResume,
}

// promptly is how long after its deadline a call may still be running. It is
// generous, for slow machines and the race detector: a transport that waits
// for the agent instead of the deadline takes the whole blockFor.
const (
	promptly = 3 * time.Second
	blockFor = 30 * time.Second
)

// Run runs the conformance suite against the transport h makes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("transporttest: Harness.New is nil")
	}
	t.Run("Probe", func(t *testing.T) { testProbe(t, h) })
	t.Run("Inventory", func(t *testing.T) { testInventory(t, h) })
	t.Run("Orders", func(t *testing.T) { testOrders(t, h) })
	t.Run("AgentErrors", func(t *testing.T) { testAgentErrors(t, h) })
	t.Run("UnknownServer", func(t *testing.T) { testUnknownServer(t, h) })
	t.Run("Killed", func(t *testing.T) { testKilled(t, h) })
	t.Run("CanceledBeforeCall", func(t *testing.T) { testCanceledBeforeCall(t, h) })
	t.Run("Deadline", func(t *testing.T) { testContextEnds(t, h, false) })
	t.Run("CanceledDuringCall", func(t *testing.T) { testContextEnds(t, h, true) })
	t.Run("InvalidOrders", func(t *testing.T) { testInvalidOrders(t, h) })
	t.Run("StaleEpoch", func(t *testing.T) { testStaleEpoch(t, h) })
	t.Run("StaleTerm", func(t *testing.T) { testStaleTerm(t, h) })
	t.Run("ReferenceAgent", func(t *testing.T) { testReferenceAgent(t, h) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, h) })
}

// connect makes a Network for the given agents and checks it is complete.
func connect(t *testing.T, h Harness, agents ...transport.Agent) Network {
	t.Helper()
	m := make(map[nvrha.ServerID]transport.Agent, len(agents))
	for _, a := range agents {
		var id nvrha.ServerID
		switch a := a.(type) {
		case *spy:
			id = a.id
		case *agenttest.Server:
			id = a.ID()
		default:
			t.Fatalf("transporttest: unexpected agent %T", a)
		}
		m[id] = a
	}
	n := h.New(t, m)
	if n.Transport == nil {
		t.Fatal("transporttest: Harness.New returned no Transport")
	}
	return n
}

// SampleOrder returns a valid order for m with epoch e, or nil for Probe and
// Inventory, which carry none.
func SampleOrder(m transport.Method, e nvrha.Epoch) any {
	switch m {
	case transport.MethodTakeover:
		return transport.TakeoverOrder{Recording: "rec-1", Epoch: e, Cameras: []nvrha.CameraID{"rec-1/cam-01", "rec-1/cam-02"}}
	case transport.MethodRelease:
		return transport.ReleaseOrder{Recording: "rec-1", Epoch: e}
	case transport.MethodStandDown:
		return transport.StandDownOrder{Epoch: e}
	case transport.MethodResume:
		return transport.ResumeOrder{Epoch: e}
	}
	return nil
}

// Invoke calls method m of tr on server with order (as SampleOrder makes it;
// ignored for Probe and Inventory) and returns the ProbeReport or Facts it
// answered, or nil for an order.
func Invoke(ctx context.Context, tr transport.Transport, server nvrha.ServerID, m transport.Method, order any) (any, error) {
	switch m {
	case transport.MethodProbe:
		return tr.Probe(ctx, server)
	case transport.MethodInventory:
		return tr.Inventory(ctx, server)
	case transport.MethodTakeover:
		return nil, tr.Takeover(ctx, server, order.(transport.TakeoverOrder))
	case transport.MethodRelease:
		return nil, tr.Release(ctx, server, order.(transport.ReleaseOrder))
	case transport.MethodStandDown:
		return nil, tr.StandDown(ctx, server, order.(transport.StandDownOrder))
	case transport.MethodResume:
		return nil, tr.Resume(ctx, server, order.(transport.ResumeOrder))
	}
	return nil, fmt.Errorf("transporttest: unknown method %q", m)
}

func testProbe(t *testing.T, h Harness) {
	a, b := newSpy("rec-1"), newSpy("standby-ü")
	reports := []transport.ProbeReport{
		{},
		{Server: "rec-1", Healthy: true, Recording: true, Epoch: 1, HasEmptyRecordingSpace: true},
		{Server: "rec-1", Covering: "Lobby NVR «2»", Epoch: 1<<63 + 12345},
		{Server: "rec-1", Epoch: ^nvrha.Epoch(0)},
	}
	n := connect(t, h, a, b)
	for i, want := range reports {
		a.mu.Lock()
		a.report = want
		a.mu.Unlock()
		got, err := n.Transport.Probe(context.Background(), "rec-1")
		if err != nil {
			t.Fatalf("report %d: Probe: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("report %d: Probe = %#v, want %#v", i, got, want)
		}
	}
	if got := len(a.delivered()); got != len(reports) {
		t.Errorf("rec-1 saw %d calls, want %d", got, len(reports))
	}
	if got := b.delivered(); len(got) != 0 {
		t.Errorf("standby-ü saw calls meant for rec-1: %v", got)
	}
}

func testInventory(t *testing.T, h Harness) {
	a := newSpy("rec-1")
	facts := []nvrha.Facts{
		{},
		{ID: "rec-1"},
		{ID: "rec-1", Cameras: []nvrha.CameraID{}, RecordingSpaces: []nvrha.RecordingSpace{}},
		{
			ID: "rec-1", Name: "Entrée «Nord» 東", Product: nvrha.ProductQVRSurveillance, AdvancedMode: true,
			LicenseChannels: 64, Cameras: []nvrha.CameraID{"cam-1", "cam 2", "カメラ-3", `cam"4\`},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 1 << 50}, {Name: "vol2", Empty: true}},
		},
		// Malformed facts travel as they are: judging them is the center's job.
		{ID: "", Product: "vendor-x", LicenseChannels: -3, Cameras: []nvrha.CameraID{"dup", "dup"}},
	}
	n := connect(t, h, a)
	for i, want := range facts {
		a.mu.Lock()
		a.facts = want.Clone()
		a.mu.Unlock()
		got, err := n.Transport.Inventory(context.Background(), "rec-1")
		if err != nil {
			t.Fatalf("facts %d: Inventory: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("facts %d: Inventory = %#v, want %#v", i, got, want)
		}
		// The caller owns what it got.
		if len(got.Cameras) > 0 {
			got.Cameras[0] = "changed"
			again, err := n.Transport.Inventory(context.Background(), "rec-1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(again), normalize(want)) {
				t.Errorf("facts %d: changing one answer changed the next: %#v", i, again)
			}
		}
	}
}

func testOrders(t *testing.T, h Harness) {
	a, b := newSpy("standby-1"), newSpy("rec-1")
	n := connect(t, h, a, b)
	orders := []any{
		transport.TakeoverOrder{Recording: "rec-1", Epoch: 1, Cameras: []nvrha.CameraID{"cam-1", "Caméra «2»", "カメラ-3"}},
		transport.TakeoverOrder{Recording: "rec-1", Epoch: 2, Cameras: []nvrha.CameraID{}},
		transport.TakeoverOrder{Recording: "rec-1", Epoch: 3},
		transport.TakeoverOrder{Recording: "rec 2", Epoch: 1<<63 + 1, Cameras: []nvrha.CameraID{"c"}},
		transport.ReleaseOrder{Recording: "rec-1", Epoch: 4},
		transport.ReleaseOrder{Recording: "rec-1", Epoch: ^nvrha.Epoch(0)},
		transport.StandDownOrder{Epoch: 5},
		transport.ResumeOrder{Epoch: 6},
		transport.ResumeOrder{Epoch: 1 << 62},
		// Center terms travel with every order, up to the largest.
		transport.TakeoverOrder{Recording: "rec-1", Epoch: 7, Cameras: []nvrha.CameraID{"cam-1"}, Term: 3},
		transport.ReleaseOrder{Recording: "rec-1", Epoch: 8, Term: 1<<63 + 5},
		transport.StandDownOrder{Epoch: 9, Term: 4},
		transport.ResumeOrder{Epoch: 10, Term: ^uint64(0)},
	}
	var want []transport.Call
	for _, o := range orders {
		m := methodOf(o)
		sent := o
		if to, ok := o.(transport.TakeoverOrder); ok {
			sent = to.Clone()
		}
		if _, err := Invoke(context.Background(), n.Transport, "standby-1", m, sent); err != nil {
			t.Fatalf("%s %#v: %v", m, o, err)
		}
		// The agent keeps what it got, whatever the caller does afterwards.
		if to, ok := sent.(transport.TakeoverOrder); ok && len(to.Cameras) > 0 {
			to.Cameras[0] = "changed by the caller"
		}
		want = append(want, transport.Call{Server: "standby-1", Method: m, Order: o})
	}
	got := a.delivered()
	for i := range got {
		got[i].Order = normalize(got[i].Order)
	}
	for i := range want {
		want[i].Order = normalize(want[i].Order)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("standby-1 got\n%#v\nwant\n%#v", got, want)
	}
	if got := b.delivered(); len(got) != 0 {
		t.Errorf("rec-1 saw calls meant for standby-1: %v", got)
	}
}

// normalize makes empty slices nil, since a transport may carry an empty
// camera list or recording spaces as either: both mean "none".
func normalize(v any) any {
	switch v := v.(type) {
	case transport.TakeoverOrder:
		if len(v.Cameras) == 0 {
			v.Cameras = nil
		}
		return v
	case nvrha.Facts:
		if len(v.Cameras) == 0 {
			v.Cameras = nil
		}
		if len(v.RecordingSpaces) == 0 {
			v.RecordingSpaces = nil
		}
		return v
	}
	return v
}

func methodOf(order any) transport.Method {
	switch order.(type) {
	case transport.TakeoverOrder:
		return transport.MethodTakeover
	case transport.ReleaseOrder:
		return transport.MethodRelease
	case transport.StandDownOrder:
		return transport.MethodStandDown
	case transport.ResumeOrder:
		return transport.MethodResume
	}
	panic(fmt.Sprintf("transporttest: not an order: %T", order))
}

// errorCase is an error an agent returns.
type errorCase struct {
	name string
	err  error
}

func agentErrors(h Harness) []errorCase {
	cases := []errorCase{
		{"stale", &transport.StaleEpochError{Key: "rec-1", Got: 3, Newest: 9}},
		{"wrapped stale", fmt.Errorf("standby refused: %w", &transport.StaleEpochError{Key: "rec «2»", Got: 1 << 60, Newest: 1<<63 + 7})},
		{"stale term", &transport.StaleTermError{Got: 2, Newest: 1<<63 + 9}},
		{"stale term 0", fmt.Errorf("refused: %w", &transport.StaleTermError{Got: 0, Newest: 1})},
		{"invalid order", fmt.Errorf("%w: camera list is too long for this server", transport.ErrInvalidOrder)},
		{"unreachable", fmt.Errorf("recording engine stopped: %w", transport.ErrUnreachable)},
		{"opaque", errors.New("license server refused: no channels left")},
		{"opaque with newline", errors.New("first line\nsecond line «é»")},
	}
	for i, s := range h.Sentinels {
		cases = append(cases, errorCase{fmt.Sprintf("sentinel %d", i), fmt.Errorf("server refused: %w", s)})
	}
	return cases
}

func testAgentErrors(t *testing.T, h Harness) {
	a := newSpy("standby-1")
	n := connect(t, h, a)
	for _, c := range agentErrors(h) {
		for _, m := range methods {
			a.answerWith(c.err)
			_, err := Invoke(context.Background(), n.Transport, "standby-1", m, SampleOrder(m, 10))
			if msg := CompareErrors(c.err, err, h.Sentinels); msg != "" {
				t.Errorf("%s, %s: %s", c.name, m, msg)
			}
		}
	}
	a.answerWith(nil)
	if got, want := len(a.delivered()), len(agentErrors(h))*len(methods); got != want {
		t.Errorf("agent saw %d calls, want %d", got, want)
	}
}

// CompareErrors checks that got is what a center should see when an agent
// answered want (see the package documentation), given the sentinels the
// transport carries. It returns "" if so, and what is wrong if not.
func CompareErrors(want, got error, sentinels []error) string {
	if want == nil {
		if got != nil {
			return fmt.Sprintf("agent succeeded but the call failed: %v", got)
		}
		return ""
	}
	if got == nil {
		return fmt.Sprintf("agent answered %q but the call succeeded", want)
	}
	if !strings.Contains(got.Error(), want.Error()) {
		return fmt.Sprintf("error %q lost the agent's message %q", got, want)
	}
	var (
		wantStale, gotStale *transport.StaleEpochError
		wantTerm, gotTerm   *transport.StaleTermError
	)
	switch {
	case errors.As(want, &wantTerm):
		if !errors.Is(got, transport.ErrStaleTerm) || !errors.As(got, &gotTerm) {
			return fmt.Sprintf("error %q is not a stale term error", got)
		}
		if *gotTerm != *wantTerm {
			return fmt.Sprintf("stale term details %+v, want %+v", *gotTerm, *wantTerm)
		}
		if errors.Is(got, transport.ErrUnreachable) || errors.Is(got, transport.ErrStaleEpoch) {
			return fmt.Sprintf("stale term error %q also claims something else", got)
		}
		return ""
	case errors.As(want, &wantStale):
		if !errors.Is(got, transport.ErrStaleEpoch) || !errors.As(got, &gotStale) {
			return fmt.Sprintf("error %q is not a stale epoch error", got)
		}
		if *gotStale != *wantStale {
			return fmt.Sprintf("stale epoch details %+v, want %+v", *gotStale, *wantStale)
		}
		if errors.Is(got, transport.ErrUnreachable) {
			return fmt.Sprintf("stale epoch error %q also claims the outcome is unknown", got)
		}
		return ""
	case errors.Is(want, transport.ErrInvalidOrder):
		if !errors.Is(got, transport.ErrInvalidOrder) {
			return fmt.Sprintf("error %q does not wrap ErrInvalidOrder", got)
		}
		if errors.Is(got, transport.ErrUnreachable) {
			return fmt.Sprintf("invalid order error %q also claims the outcome is unknown", got)
		}
		return ""
	case errors.Is(want, transport.ErrUnreachable):
		if !errors.Is(got, transport.ErrUnreachable) {
			return fmt.Sprintf("error %q does not wrap ErrUnreachable", got)
		}
		return ""
	}
	if errors.Is(got, transport.ErrUnreachable) || errors.Is(got, transport.ErrStaleEpoch) ||
		errors.Is(got, transport.ErrStaleTerm) || errors.Is(got, transport.ErrInvalidOrder) || errors.Is(got, context.Canceled) ||
		errors.Is(got, context.DeadlineExceeded) {
		return fmt.Sprintf("agent's refusal %q arrived as %q, which means something else", want, got)
	}
	for _, s := range sentinels {
		if errors.Is(want, s) && !errors.Is(got, s) {
			return fmt.Sprintf("error %q lost the sentinel %q", got, s)
		}
	}
	return ""
}

func testUnknownServer(t *testing.T, h Harness) {
	a := newSpy("rec-1")
	n := connect(t, h, a)
	for _, id := range []nvrha.ServerID{"rec-2", "REC-1", "rec-1 ", ""} {
		for _, m := range methods {
			_, err := Invoke(context.Background(), n.Transport, id, m, SampleOrder(m, 1))
			if !errors.Is(err, transport.ErrUnreachable) {
				t.Errorf("%s %q: got %v, want ErrUnreachable", m, id, err)
			}
		}
	}
	if got := a.delivered(); len(got) != 0 {
		t.Errorf("rec-1 saw calls meant for others: %v", got)
	}
}

func testKilled(t *testing.T, h Harness) {
	a, b := newSpy("rec-1"), newSpy("rec-2")
	n := connect(t, h, a, b)
	if n.Kill == nil {
		t.Fatal("transporttest: Network.Kill is nil")
	}
	// Reach both once, so that a transport that keeps connections has one.
	for _, id := range []nvrha.ServerID{"rec-1", "rec-2"} {
		if _, err := n.Transport.Probe(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	n.Kill("rec-1")
	before := len(a.delivered())
	for _, m := range methods {
		_, err := Invoke(context.Background(), n.Transport, "rec-1", m, SampleOrder(m, 1))
		if !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("%s to a killed server: got %v, want ErrUnreachable", m, err)
		}
		if _, err := Invoke(context.Background(), n.Transport, "rec-2", m, SampleOrder(m, 1)); err != nil {
			t.Errorf("%s to a live server after another was killed: %v", m, err)
		}
	}
	if got := len(a.delivered()); got != before {
		t.Errorf("a killed server received %d calls", got-before)
	}
}

func testCanceledBeforeCall(t *testing.T, h Harness) {
	a := newSpy("rec-1")
	n := connect(t, h, a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, m := range methods {
		_, err := Invoke(ctx, n.Transport, "rec-1", m, SampleOrder(m, 1))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: got %v, want context.Canceled", m, err)
		}
	}
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	for _, m := range methods {
		_, err := Invoke(dctx, n.Transport, "rec-1", m, SampleOrder(m, 1))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s past its deadline: got %v, want context.DeadlineExceeded", m, err)
		}
	}
	if got := a.delivered(); len(got) != 0 {
		t.Errorf("calls with a done context were delivered: %v", got)
	}
}

// testContextEnds blocks the agent and ends the caller's context while the
// call is in the agent's hands: by deadline, or by cancel once the agent has
// started.
func testContextEnds(t *testing.T, h Harness, cancelIt bool) {
	a := newSpy("rec-1")
	n := connect(t, h, a)
	started, release := a.blockCalls()
	t.Cleanup(release)
	for _, m := range methods {
		timeout, want := 100*time.Millisecond, context.DeadlineExceeded
		if cancelIt {
			timeout, want = blockFor, context.Canceled
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if cancelIt {
			go func() {
				select {
				case <-started:
				case <-ctx.Done():
				}
				cancel()
			}()
		}
		begin := time.Now()
		_, err := Invoke(ctx, n.Transport, "rec-1", m, SampleOrder(m, 1))
		took := time.Since(begin)
		cancel()
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want an error wrapping %v", m, err, want)
		}
		if errors.Is(err, transport.ErrStaleEpoch) || errors.Is(err, transport.ErrInvalidOrder) {
			t.Errorf("%s: a call whose context ended reports a definite refusal: %v", m, err)
		}
		if took > promptly {
			t.Errorf("%s: returned %v after the call began, want well under %v", m, took, promptly)
		}
	}
}

func standbyFacts(id nvrha.ServerID) nvrha.Facts {
	return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}}
}

func recordingFacts(id nvrha.ServerID, cameras ...nvrha.CameraID) nvrha.Facts {
	return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
		Cameras: cameras, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}}}
}

// serverState is what a refused order must leave as it was.
type serverState struct {
	Recording bool
	Covering  nvrha.ServerID
	Cameras   []nvrha.CameraID
	Epochs    map[nvrha.ServerID]nvrha.Epoch
	Term      uint64
}

func stateOf(s *agenttest.Server, keys ...nvrha.ServerID) serverState {
	st := serverState{Recording: s.Recording(), Epochs: map[nvrha.ServerID]nvrha.Epoch{}, Term: s.Term()}
	st.Covering, st.Cameras = s.Covering()
	for _, k := range keys {
		st.Epochs[k] = s.Newest(k)
	}
	return st
}

func testInvalidOrders(t *testing.T, h Harness) {
	ctx := context.Background()
	sb := agenttest.New(standbyFacts("standby-1"))
	rec := agenttest.New(recordingFacts("rec-1", "cam-1", "cam-2"))
	n := connect(t, h, sb, rec)
	if err := n.Transport.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 5, Cameras: []nvrha.CameraID{"cam-9"}}); err != nil {
		t.Fatal(err)
	}
	keys := []nvrha.ServerID{"rec-1", "rec-2", "standby-1", ""}
	sbBefore, recBefore := stateOf(sb, keys...), stateOf(rec, keys...)

	long := make([]nvrha.CameraID, nvrha.MaxCamerasPerServer+1)
	for i := range long {
		long[i] = nvrha.CameraID(fmt.Sprintf("c%d", i))
	}
	toStandby := []any{
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 0, Cameras: []nvrha.CameraID{"cam-9"}},
		transport.TakeoverOrder{Recording: "", Epoch: 9},
		transport.TakeoverOrder{Recording: "rec\n2", Epoch: 9},
		transport.TakeoverOrder{Recording: " rec-2", Epoch: 9},
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: []nvrha.CameraID{"cam-9", "cam-9"}},
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: []nvrha.CameraID{"cam-\x00"}},
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: []nvrha.CameraID{"cam-\xff"}},
		transport.TakeoverOrder{Recording: "rec-\xff", Epoch: 9},
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: []nvrha.CameraID{""}},
		transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: long},
		transport.TakeoverOrder{Recording: "standby-1", Epoch: 9}, // itself: the agent's own check
		transport.ReleaseOrder{Recording: "rec-2", Epoch: 0},
		transport.ReleaseOrder{Recording: "", Epoch: 9},
		transport.ReleaseOrder{Recording: "rec-\xff", Epoch: 9},
	}
	toRecording := []any{transport.StandDownOrder{}, transport.ResumeOrder{}}
	for server, orders := range map[nvrha.ServerID][]any{"standby-1": toStandby, "rec-1": toRecording} {
		for _, o := range orders {
			_, err := Invoke(ctx, n.Transport, server, methodOf(o), o)
			if !errors.Is(err, transport.ErrInvalidOrder) {
				t.Errorf("%s %.200q: got %v, want ErrInvalidOrder", methodOf(o), fmt.Sprint(o), err)
			}
		}
	}
	if got := stateOf(sb, keys...); !reflect.DeepEqual(got, sbBefore) {
		t.Errorf("invalid orders changed standby-1: %+v, was %+v", got, sbBefore)
	}
	if got := stateOf(rec, keys...); !reflect.DeepEqual(got, recBefore) {
		t.Errorf("invalid orders changed rec-1: %+v, was %+v", got, recBefore)
	}
}

func testStaleEpoch(t *testing.T, h Harness) {
	ctx := context.Background()
	sb := agenttest.New(standbyFacts("standby-1"))
	rec := agenttest.New(recordingFacts("rec-1", "cam-1", "cam-2"))
	n := connect(t, h, sb, rec)
	tr := n.Transport
	cams := []nvrha.CameraID{"cam-1", "cam-2"}
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams}); err != nil {
		t.Fatal(err)
	}
	if err := tr.StandDown(ctx, "rec-1", transport.StandDownOrder{Epoch: 5}); err != nil {
		t.Fatal(err)
	}
	keys := []nvrha.ServerID{"rec-1"}
	sbBefore, recBefore := stateOf(sb, keys...), stateOf(rec, keys...)
	stale := []struct {
		server nvrha.ServerID
		order  any
	}{
		{"standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 4, Cameras: []nvrha.CameraID{"cam-1"}}},
		{"standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 4}},
		{"standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 1}},
		{"rec-1", transport.StandDownOrder{Epoch: 4}},
		{"rec-1", transport.ResumeOrder{Epoch: 2}},
	}
	for _, c := range stale {
		_, err := Invoke(ctx, tr, c.server, methodOf(c.order), c.order)
		var se *transport.StaleEpochError
		if !errors.Is(err, transport.ErrStaleEpoch) || !errors.As(err, &se) {
			t.Errorf("%s %+v: got %v, want a stale epoch error", methodOf(c.order), c.order, err)
			continue
		}
		got := reflect.ValueOf(c.order).FieldByName("Epoch").Interface().(nvrha.Epoch)
		if want := (transport.StaleEpochError{Key: "rec-1", Got: got, Newest: 5}); *se != want {
			t.Errorf("%s %+v: details %+v, want %+v", methodOf(c.order), c.order, *se, want)
		}
	}
	if got := stateOf(sb, keys...); !reflect.DeepEqual(got, sbBefore) {
		t.Errorf("stale orders changed standby-1: %+v, was %+v", got, sbBefore)
	}
	if got := stateOf(rec, keys...); !reflect.DeepEqual(got, recBefore) {
		t.Errorf("stale orders changed rec-1: %+v, was %+v", got, recBefore)
	}
	// A retry with the same epoch is accepted; failback needs a newer one.
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams}); err != nil {
		t.Errorf("retry with the same epoch: %v", err)
	}
	if err := tr.Resume(ctx, "rec-1", transport.ResumeOrder{Epoch: 6}); err != nil {
		t.Errorf("resume with a newer epoch: %v", err)
	}
	if err := tr.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 6}); err != nil {
		t.Errorf("release with a newer epoch: %v", err)
	}
	if cov, _ := sb.Covering(); cov != "" || !rec.Recording() {
		t.Errorf("after failback standby-1 covers %q and rec-1 records: %v", cov, rec.Recording())
	}
}

// testStaleTerm checks that an order of an older center term than the agent
// has accepted is refused with the agent's *StaleTermError and changes
// nothing, whatever its epoch, and that the term crosses with every order.
func testStaleTerm(t *testing.T, h Harness) {
	ctx := context.Background()
	sb := agenttest.New(standbyFacts("standby-1"))
	rec := agenttest.New(recordingFacts("rec-1", "cam-1", "cam-2"))
	n := connect(t, h, sb, rec)
	tr := n.Transport
	cams := []nvrha.CameraID{"cam-1", "cam-2"}
	// Term 0, a center without election, works until a term is seen.
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 4, Cameras: cams}); err != nil {
		t.Fatalf("takeover of term 0 on agents that never saw a term: %v", err)
	}
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams, Term: 7}); err != nil {
		t.Fatal(err)
	}
	if err := tr.StandDown(ctx, "rec-1", transport.StandDownOrder{Epoch: 5, Term: 7}); err != nil {
		t.Fatal(err)
	}
	if sb.Term() != 7 || rec.Term() != 7 {
		t.Fatalf("terms after orders of term 7: standby %d, recording %d; the term did not cross", sb.Term(), rec.Term())
	}
	keys := []nvrha.ServerID{"rec-1", "rec-2"}
	sbBefore, recBefore := stateOf(sb, keys...), stateOf(rec, keys...)
	// Newer epochs do not help an older term: the deposed center's orders
	// would otherwise undo its successor's.
	stale := []struct {
		server nvrha.ServerID
		order  any
	}{
		{"standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 6, Term: 6}},
		{"standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 9}},
		{"standby-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Cameras: []nvrha.CameraID{"cam-9"}, Term: 1}},
		{"rec-1", transport.ResumeOrder{Epoch: 6, Term: 6}},
		{"rec-1", transport.StandDownOrder{Epoch: 8, Term: 2}},
	}
	for _, c := range stale {
		_, err := Invoke(ctx, tr, c.server, methodOf(c.order), c.order)
		var st *transport.StaleTermError
		if !errors.Is(err, transport.ErrStaleTerm) || !errors.As(err, &st) {
			t.Errorf("%s %+v: got %v, want a stale term error", methodOf(c.order), c.order, err)
			continue
		}
		got := reflect.ValueOf(c.order).FieldByName("Term").Interface().(uint64)
		if want := (transport.StaleTermError{Got: got, Newest: 7}); *st != want {
			t.Errorf("%s %+v: details %+v, want %+v", methodOf(c.order), c.order, *st, want)
		}
		if errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("%s %+v: a stale term claims the outcome is unknown: %v", methodOf(c.order), c.order, err)
		}
	}
	if got := stateOf(sb, keys...); !reflect.DeepEqual(got, sbBefore) {
		t.Errorf("stale-term orders changed standby-1: %+v, was %+v", got, sbBefore)
	}
	if got := stateOf(rec, keys...); !reflect.DeepEqual(got, recBefore) {
		t.Errorf("stale-term orders changed rec-1: %+v, was %+v", got, recBefore)
	}
	// The newest term is accepted, and a newer one raises the agent's.
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams, Term: 7}); err != nil {
		t.Errorf("retry under the same term: %v", err)
	}
	if err := tr.Resume(ctx, "rec-1", transport.ResumeOrder{Epoch: 6, Term: 8}); err != nil {
		t.Errorf("resume under a newer term: %v", err)
	}
	if err := tr.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 6, Term: 8}); err != nil {
		t.Errorf("release under a newer term: %v", err)
	}
	if sb.Term() != 8 || rec.Term() != 8 {
		t.Errorf("terms after orders of term 8: standby %d, recording %d", sb.Term(), rec.Term())
	}
	if cov, _ := sb.Covering(); cov != "" || !rec.Recording() {
		t.Errorf("after failback standby-1 covers %q and rec-1 records: %v", cov, rec.Recording())
	}
}

// testReferenceAgent runs a takeover and failback against agenttest servers,
// with a crash, so that each kind of answer of a real server crosses the
// transport.
func testReferenceAgent(t *testing.T, h Harness) {
	ctx := context.Background()
	sb := agenttest.New(standbyFacts("standby-1"))
	sb2 := agenttest.New(standbyFacts("standby-2"))
	rec := agenttest.New(recordingFacts("rec-1", "cam-1", "cam-2"))
	rec2 := agenttest.New(recordingFacts("rec-2", "cam-3"))
	n := connect(t, h, sb, sb2, rec, rec2)
	tr := n.Transport

	f, err := tr.Inventory(ctx, "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := recordingFacts("rec-1", "cam-1", "cam-2"); !reflect.DeepEqual(normalize(f), normalize(want)) {
		t.Errorf("Inventory = %#v, want %#v", f, want)
	}

	rec.Crash()
	if _, err := tr.Probe(ctx, "rec-1"); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("probe of a crashed agent: got %v, want ErrUnreachable", err)
	}
	if err := tr.StandDown(ctx, "rec-1", transport.StandDownOrder{Epoch: 1}); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("stand-down of a crashed agent: got %v, want ErrUnreachable", err)
	}
	if err := tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 1, Cameras: f.Cameras}); err != nil {
		t.Fatal(err)
	}
	r, err := tr.Probe(ctx, "standby-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (transport.ProbeReport{Server: "standby-1", Healthy: true, Covering: "rec-1", Epoch: 1, HasEmptyRecordingSpace: true}); r != want {
		t.Errorf("standby probe = %+v, want %+v", r, want)
	}

	// The agent's own refusals cross as definite refusals, with their message.
	err = tr.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Cameras: []nvrha.CameraID{"cam-3"}})
	if msg := CompareErrors(fmt.Errorf("%w: standby-1 covers rec-1, refused takeover of rec-2", agenttest.ErrBusy), err, h.Sentinels); msg != "" {
		t.Errorf("busy standby: %s", msg)
	}
	sb2.SetHealthy(false)
	err = tr.Takeover(ctx, "standby-2", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Cameras: []nvrha.CameraID{"cam-3"}})
	if msg := CompareErrors(fmt.Errorf("%w: standby-2 refused takeover of rec-2", agenttest.ErrUnhealthy), err, h.Sentinels); msg != "" {
		t.Errorf("abnormal standby: %s", msg)
	}
	sb2.SetHealthy(true)
	sb2.SetEmptyRecordingSpace(false)
	err = tr.Takeover(ctx, "standby-2", transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Cameras: []nvrha.CameraID{"cam-3"}})
	if msg := CompareErrors(fmt.Errorf("%w: standby-2 refused takeover of rec-2", agenttest.ErrNoEmptyRecordingSpace), err, h.Sentinels); msg != "" {
		t.Errorf("standby with no empty space: %s", msg)
	}

	rec.Restart()
	if err := tr.StandDown(ctx, "rec-1", transport.StandDownOrder{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Resume(ctx, "rec-1", transport.ResumeOrder{Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 2}); err != nil {
		t.Fatal(err)
	}
	if cov, _ := sb.Covering(); cov != "" || !rec.Recording() {
		t.Errorf("after failback standby-1 covers %q and rec-1 records: %v", cov, rec.Recording())
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const servers, workers, perWorker = 4, 16, 12
	spies := make([]*spy, servers)
	agents := make([]transport.Agent, servers)
	for i := range spies {
		spies[i] = newSpy(nvrha.ServerID(fmt.Sprintf("srv-%d", i)))
		agents[i] = spies[i]
	}
	n := connect(t, h, agents...)

	var (
		epoch atomic.Uint64
		mu    sync.Mutex
		want  = make(map[nvrha.ServerID][]string)
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				s := spies[(w+i)%servers]
				m := methods[(w*perWorker+i)%len(methods)]
				order := SampleOrder(m, nvrha.Epoch(epoch.Add(1)))
				got, err := Invoke(context.Background(), n.Transport, s.id, m, order)
				if err != nil {
					t.Errorf("%s %s: %v", m, s.id, err)
					continue
				}
				switch r := got.(type) {
				case transport.ProbeReport:
					if r.Server != s.id {
						t.Errorf("probe of %s answered by %s", s.id, r.Server)
					}
				case nvrha.Facts:
					if r.ID != s.id {
						t.Errorf("inventory of %s answered by %s", s.id, r.ID)
					}
				}
				mu.Lock()
				want[s.id] = append(want[s.id], fmt.Sprintf("%s %#v", m, order))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, s := range spies {
		var got []string
		for _, c := range s.delivered() {
			got = append(got, fmt.Sprintf("%s %#v", c.Method, c.Order))
		}
		slices.Sort(got)
		w := want[s.id]
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s saw %d calls, made %d; they differ", s.id, len(got), len(w))
		}
	}
}
