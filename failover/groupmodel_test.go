package failover_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// TestGroupOperationsAgainstModel drives random sequences of every group
// operation against a reference model written from the manual's rules, and
// checks after every step that the Machine agrees with it.
//
// The model is deliberately naive: plain slices, linear scans, its own
// reading of each rule. For each operation it lists every rule the call
// breaks; the Machine must accept exactly the calls that break none and
// refuse the others with an error wrapping one of the broken rules'
// sentinels (which one is reported first is the Machine's choice). A refused
// call must change nothing.
func TestGroupOperationsAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runGroupModel(t, nil) })
}

// runGroupModel runs TestGroupOperationsAgainstModel's operations; after,
// when set, sees the Machine after every check.
func runGroupModel(t *rapid.T, after func(*failover.Machine)) {
	platform := rapid.SampledFrom([]nvrha.Platform{nvrha.PlatformX86_64, nvrha.PlatformARM64}).Draw(t, "platform")
	m, err := failover.NewMachine(failover.Config{Platform: platform})
	if err != nil {
		t.Fatalf("NewMachine: %v", err)
	}
	md := newGroupModel(platform)
	for _, id := range md.pool {
		md.world[id] = factsGen(id).Draw(t, "facts of "+string(id))
	}
	h := &modelHarness{m: m, md: md, after: after}
	// Start from a random center, so that the limits are reached
	// within a run: some groups, some servers, all checked like any
	// other step.
	for i := range rapid.IntRange(0, 16).Draw(t, "initial groups") {
		h.addGroupNamed(t, groupName{fmt.Sprintf("Site %d", i), fmt.Sprintf("Site %d", i)})
	}
	for range rapid.IntRange(0, 12).Draw(t, "initial batches") {
		h.addServers(t, rapid.SampledFrom([]failover.Role{failover.RoleRecording, failover.RoleStandby}).Draw(t, "role"))
	}
	t.Repeat(map[string]func(*rapid.T){
		"":                       h.check,
		"AddGroup":               h.addGroup,
		"RenameGroup":            h.renameGroup,
		"DeleteGroup":            h.deleteGroup,
		"SetProtection":          h.setProtection,
		"AddRecordingServers":    func(t *rapid.T) { h.addServers(t, failover.RoleRecording) },
		"AddStandbyServers":      func(t *rapid.T) { h.addServers(t, failover.RoleStandby) },
		"RemoveRecordingServers": func(t *rapid.T) { h.removeServers(t, failover.RoleRecording) },
		"RemoveStandbyServers":   func(t *rapid.T) { h.removeServers(t, failover.RoleStandby) },
		"SetServerEnabled":       h.setServerEnabled,
		"UpdateFacts":            h.updateFacts,
	})
}

// --- The reference model -----------------------------------------------------

type modelMember struct {
	id      nvrha.ServerID
	role    failover.Role
	enabled bool
	facts   nvrha.Facts
}

type modelGroup struct {
	id         failover.GroupID
	name       string
	protection bool
	members    []modelMember
}

// joining is what a standby looked like, and what it had to beat, when it
// joined a group.
type joining struct {
	facts             nvrha.Facts
	recordingChannels []int
}

type groupModel struct {
	capacity int
	groups   []*modelGroup
	nextID   failover.GroupID
	// used holds every group ID handed out, deleted ones included.
	used []failover.GroupID
	// pool is every server the test knows, and world their current
	// facts, members or not.
	pool  []nvrha.ServerID
	world map[nvrha.ServerID]nvrha.Facts
	// joined records each standby's join, for the join-time invariant.
	joined map[nvrha.ServerID]joining
}

func newGroupModel(p nvrha.Platform) *groupModel {
	capacity := 64
	if p == nvrha.PlatformARM64 {
		capacity = 8
	}
	md := &groupModel{
		capacity: capacity,
		groups:   []*modelGroup{{id: 1, name: "Failover Group 1", protection: true}},
		nextID:   2,
		used:     []failover.GroupID{1},
		world:    map[nvrha.ServerID]nvrha.Facts{},
		joined:   map[nvrha.ServerID]joining{},
	}
	for i := 1; i <= 24; i++ {
		md.pool = append(md.pool, nvrha.ServerID(fmt.Sprintf("srv-%02d", i)))
	}
	return md
}

func (md *groupModel) group(id failover.GroupID) *modelGroup {
	for _, g := range md.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

// home returns the group and index of a member, or nil.
func (md *groupModel) home(id nvrha.ServerID) (*modelGroup, int) {
	for _, g := range md.groups {
		for i, mem := range g.members {
			if mem.id == id {
				return g, i
			}
		}
	}
	return nil, -1
}

// nameTaken reports whether another group than self has the name, read
// without regard to case.
func (md *groupModel) nameTaken(name string, self failover.GroupID) bool {
	for _, g := range md.groups {
		if g.id != self && strings.EqualFold(g.name, name) {
			return true
		}
	}
	return false
}

// groupName is a name the test gives, with what the model expects of it:
// the stored form, or "" when the name is unusable.
type groupName struct {
	raw, stored string
}

var groupNames = []groupName{
	{"Lobby", "Lobby"},
	{"LOBBY", "LOBBY"},
	{"  lobby\t", "lobby"},
	{"Parking", "Parking"},
	{"parking ", "parking"},
	{"Loading Dock", "Loading Dock"},
	{"Failover Group 1", "Failover Group 1"},
	{"FAILOVER GROUP 1", "FAILOVER GROUP 1"},
	{strings.Repeat("y", 64), strings.Repeat("y", 64)},
	{"", ""},
	{"   ", ""},
	{strings.Repeat("x", 65), ""},
	{"Bell\x07", ""},
	{"Two\nLines", ""},
	{"Bad\xffByte", ""},
}

func groupNameGen() *rapid.Generator[groupName] {
	return rapid.OneOf(
		rapid.SampledFrom(groupNames),
		rapid.Map(rapid.IntRange(2, 20), func(n int) groupName {
			s := fmt.Sprintf("Group %d", n)
			return groupName{s, s}
		}),
	)
}

// product choices: the three QVR products and one no group accepts.
var modelProducts = []nvrha.Product{nvrha.ProductQVRSurveillance, nvrha.ProductQVRElite, nvrha.ProductQVRPro, "acme-nvr"}

func modelSupported(p nvrha.Product) bool {
	return p == nvrha.ProductQVRSurveillance || p == nvrha.ProductQVRElite || p == nvrha.ProductQVRPro
}

// factsGen draws well-formed facts for server id: shaped like a recording
// server (cameras, space in use) or like a standby (no cameras, an empty
// space), with each rule broken now and then, so that batches mix eligible
// and ineligible servers.
func factsGen(id nvrha.ServerID) *rapid.Generator[nvrha.Facts] {
	return rapid.Custom(func(t *rapid.T) nvrha.Facts {
		standbyShaped := rapid.Bool().Draw(t, "standby-shaped")
		f := nvrha.Facts{
			ID:              id,
			Product:         rapid.SampledFrom(modelProducts).Draw(t, "product"),
			AdvancedMode:    rapid.IntRange(0, 5).Draw(t, "advanced") > 0,
			LicenseChannels: rapid.SampledFrom([]int{4, 8, 16, 32, 64}).Draw(t, "channels"),
		}
		if standbyShaped == (rapid.IntRange(0, 5).Draw(t, "odd cameras") == 0) {
			f.Cameras = []nvrha.CameraID{nvrha.CameraID(id + "-cam-1"), nvrha.CameraID(id + "-cam-2")}
		}
		emptySpace := standbyShaped != (rapid.IntRange(0, 5).Draw(t, "odd spaces") == 0)
		switch n := rapid.IntRange(0, 1).Draw(t, "spaces"); {
		case emptySpace && n == 0:
			f.RecordingSpaces = []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}
		case emptySpace:
			f.RecordingSpaces = []nvrha.RecordingSpace{{Name: "vol1", Empty: false}, {Name: "vol2", Empty: true}}
		case n == 0:
			f.RecordingSpaces = nil
		default:
			f.RecordingSpaces = []nvrha.RecordingSpace{{Name: "vol1", Empty: false}}
		}
		return f
	})
}

// judgeStandby lists the codes of every standby rule f breaks in a group
// whose recording servers have the given license channels.
func judgeStandby(f nvrha.Facts, recordingChannels []int) []eligibility.Code {
	var codes []eligibility.Code
	empty := false
	for _, s := range f.RecordingSpaces {
		empty = empty || s.Empty
	}
	if !empty {
		codes = append(codes, eligibility.CodeNoEmptyRecordingSpace)
	}
	if len(f.Cameras) != 0 {
		codes = append(codes, eligibility.CodeCameraListNotEmpty)
	}
	for _, c := range recordingChannels {
		if f.LicenseChannels < c {
			codes = append(codes, eligibility.CodeInsufficientLicense)
			break
		}
	}
	return codes
}

// judgeJoin lists the codes of every rule that keeps f from joining g as
// role when it would be the group's (size+1)-th server.
func (md *groupModel) judgeJoin(f nvrha.Facts, g *modelGroup, role failover.Role, size int) []eligibility.Code {
	var codes []eligibility.Code
	if !modelSupported(f.Product) {
		codes = append(codes, eligibility.CodeUnsupportedProduct)
	}
	if !f.AdvancedMode {
		codes = append(codes, eligibility.CodeAdvancedModeDisabled)
	}
	if h, _ := md.home(f.ID); h == g {
		codes = append(codes, eligibility.CodeAlreadyInGroup)
	} else if h != nil {
		codes = append(codes, eligibility.CodeInAnotherGroup)
	}
	if size+1 > md.capacity {
		codes = append(codes, eligibility.CodeGroupFull)
	}
	if role == failover.RoleStandby {
		codes = append(codes, judgeStandby(f, recordingChannelsOf(g))...)
	}
	return codes
}

func recordingChannelsOf(g *modelGroup) []int {
	var out []int
	for _, mem := range g.members {
		if mem.role == failover.RoleRecording {
			out = append(out, mem.facts.LicenseChannels)
		}
	}
	return out
}

func hasDuplicates(ids []nvrha.ServerID) bool {
	for i := range ids {
		if slices.Contains(ids[:i], ids[i]) {
			return true
		}
	}
	return false
}

// --- Driving both ------------------------------------------------------------

type modelHarness struct {
	m  *failover.Machine
	md *groupModel
	// spent are approvals that already approved an operation: an
	// Approval approves one operation, once.
	spent []failover.Approval
	// after, when set, sees the Machine after every check.
	after func(*failover.Machine)
	snaps snapshotUpdater
}

// approval draws the Approval an operation op is attempted with: none, one
// for the other guarded operation, one already spent, or a fresh one for
// op. It returns the approval and the rule it breaks, nil for a fresh one.
func (h *modelHarness) approval(t *rapid.T, op failover.Operation) (failover.Approval, error) {
	other := failover.OpDeleteGroup
	if op == failover.OpDeleteGroup {
		other = failover.OpRemoveStandbyServers
	}
	kind := rapid.IntRange(0, 4).Draw(t, "approval")
	switch {
	case kind == 0:
		return failover.Approval{}, failover.ErrVerificationRequired
	case kind == 1:
		return approveRapid(t, other), failover.ErrVerificationRequired
	case kind == 2 && len(h.spent) > 0:
		a := rapid.SampledFrom(h.spent).Draw(t, "spent approval")
		if a.Operation() != op {
			return a, failover.ErrVerificationRequired
		}
		return a, failover.ErrApprovalUsed
	}
	return approveRapid(t, op), nil
}

func approveRapid(t *rapid.T, op failover.Operation) failover.Approval {
	a, err := failover.VerifyFirstAdmin(context.Background(),
		failover.VerifierFunc(func(context.Context) error { return nil }), op)
	if err != nil {
		t.Fatalf("VerifyFirstAdmin: %v", err)
	}
	return a
}

// outcome runs call on the Machine and compares it with the model's
// verdict: broken is every sentinel of a rule the call breaks, empty when
// the model accepts. It returns whether the Machine accepted.
func (h *modelHarness) outcome(t *rapid.T, op string, broken []error, call func() error) (error, bool) {
	before := h.m.Snapshot()
	err := call()
	if len(broken) == 0 {
		if err != nil {
			t.Fatalf("%s: refused with %v; the model accepts it", op, err)
		}
		return nil, true
	}
	if err == nil {
		t.Fatalf("%s: accepted; the model refuses it for %v", op, broken)
	}
	ok := false
	for _, b := range broken {
		ok = ok || errors.Is(err, b)
	}
	if !ok {
		t.Fatalf("%s: refused with %v; the model expects one of %v", op, err, broken)
	}
	if after := h.m.Snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("%s: refused (%v) but changed the state:\nbefore %+v\nafter  %+v", op, err, before, after)
	}
	return err, false
}

// groupIDGen draws an existing group, a deleted one or one never made.
func (h *modelHarness) groupIDGen() *rapid.Generator[failover.GroupID] {
	var ids []failover.GroupID
	for _, g := range h.md.groups {
		ids = append(ids, g.id)
	}
	return rapid.OneOf(
		rapid.SampledFrom(ids),
		rapid.SampledFrom(ids),
		rapid.SampledFrom(append(slices.Clone(h.md.used), 0, h.md.nextID, h.md.nextID+7)),
	)
}

func (h *modelHarness) addGroup(t *rapid.T) {
	h.addGroupNamed(t, groupNameGen().Draw(t, "name"))
}

func (h *modelHarness) addGroupNamed(t *rapid.T, n groupName) {
	var broken []error
	if n.stored == "" {
		broken = append(broken, failover.ErrInvalidGroupName)
	} else if h.md.nameTaken(n.stored, 0) {
		broken = append(broken, failover.ErrDuplicateGroupName)
	}
	if len(h.md.groups) >= 16 {
		broken = append(broken, failover.ErrTooManyGroups)
	}
	var id failover.GroupID
	if _, ok := h.outcome(t, fmt.Sprintf("AddGroup(%q)", n.raw), broken, func() (err error) {
		id, err = h.m.AddGroup(n.raw)
		return err
	}); !ok {
		return
	}
	if slices.Contains(h.md.used, id) {
		t.Fatalf("AddGroup(%q) reused group ID %v", n.raw, id)
	}
	h.md.groups = append(h.md.groups, &modelGroup{id: id, name: n.stored, protection: true})
	h.md.used = append(h.md.used, id)
	h.md.nextID = max(h.md.nextID, id+1)
}

func (h *modelHarness) renameGroup(t *rapid.T) {
	id := h.groupIDGen().Draw(t, "group")
	n := groupNameGen().Draw(t, "name")
	g := h.md.group(id)
	var broken []error
	if g == nil {
		broken = append(broken, failover.ErrGroupNotFound)
	}
	if n.stored == "" {
		broken = append(broken, failover.ErrInvalidGroupName)
	} else if h.md.nameTaken(n.stored, id) {
		broken = append(broken, failover.ErrDuplicateGroupName)
	}
	if _, ok := h.outcome(t, fmt.Sprintf("RenameGroup(%v, %q)", id, n.raw), broken, func() error {
		return h.m.RenameGroup(id, n.raw)
	}); ok {
		g.name = n.stored
	}
}

func (h *modelHarness) deleteGroup(t *rapid.T) {
	id := h.groupIDGen().Draw(t, "group")
	a, refusal := h.approval(t, failover.OpDeleteGroup)
	approved := refusal == nil
	var broken []error
	if h.md.group(id) == nil {
		broken = append(broken, failover.ErrGroupNotFound)
	}
	if id == 1 {
		broken = append(broken, failover.ErrDefaultGroup)
	}
	if !approved {
		broken = append(broken, refusal)
	}
	var tks []failover.Takeover
	if _, ok := h.outcome(t, fmt.Sprintf("DeleteGroup(%v, approved %v)", id, approved), broken, func() (err error) {
		tks, err = h.m.DeleteGroup(id, a)
		return err
	}); !ok {
		return
	}
	h.spent = append(h.spent, a)
	if len(tks) != 0 {
		t.Fatalf("DeleteGroup(%v) interrupted %v, but nothing was taken over", id, tks)
	}
	g := h.md.group(id)
	for _, mem := range g.members {
		delete(h.md.joined, mem.id)
	}
	h.md.groups = slices.DeleteFunc(h.md.groups, func(x *modelGroup) bool { return x == g })
}

func (h *modelHarness) setProtection(t *rapid.T) {
	id := h.groupIDGen().Draw(t, "group")
	on := rapid.Bool().Draw(t, "on")
	var broken []error
	g := h.md.group(id)
	if g == nil {
		broken = append(broken, failover.ErrGroupNotFound)
	}
	var tks []failover.Takeover
	if _, ok := h.outcome(t, fmt.Sprintf("SetProtection(%v, %v)", id, on), broken, func() (err error) {
		tks, err = h.m.SetProtection(id, on)
		return err
	}); !ok {
		return
	}
	if len(tks) != 0 {
		t.Fatalf("SetProtection(%v, %v) interrupted %v, but nothing was taken over", id, on, tks)
	}
	g.protection = on
}

// serverGen draws a server of the pool, most often one that is (member
// true) or is not (member false) in a group.
func (h *modelHarness) serverGen(member bool) *rapid.Generator[nvrha.ServerID] {
	var some []nvrha.ServerID
	for _, id := range h.md.pool {
		if g, _ := h.md.home(id); (g != nil) == member {
			some = append(some, id)
		}
	}
	if len(some) == 0 {
		return rapid.SampledFrom(h.md.pool)
	}
	return rapid.OneOf(rapid.SampledFrom(some), rapid.SampledFrom(some), rapid.SampledFrom(some), rapid.SampledFrom(h.md.pool))
}

func (h *modelHarness) addServers(t *rapid.T, role failover.Role) {
	id := h.groupIDGen().Draw(t, "group")
	ids := rapid.SliceOfN(h.serverGen(false), 1, 4).Draw(t, "servers")
	batch := make([]nvrha.Facts, len(ids))
	for i, sid := range ids {
		batch[i] = h.md.world[sid].Clone()
	}
	g := h.md.group(id)
	var broken []error
	if g == nil {
		broken = append(broken, failover.ErrGroupNotFound)
	}
	dup := hasDuplicates(ids)
	if dup {
		broken = append(broken, failover.ErrDuplicateServer)
	}
	// want is every server the model refuses, with its codes.
	want := map[nvrha.ServerID][]eligibility.Code{}
	if g != nil {
		for i, f := range batch {
			if codes := h.md.judgeJoin(f, g, role, len(g.members)+i); len(codes) > 0 {
				want[f.ID] = codes
			}
		}
		if len(want) > 0 {
			broken = append(broken, failover.ErrIneligible)
		}
	}
	op := fmt.Sprintf("Add %s servers %v to group %v", role, ids, id)
	err, ok := h.outcome(t, op, broken, func() error {
		if role == failover.RoleRecording {
			return h.m.AddRecordingServers(id, batch...)
		}
		return h.m.AddStandbyServers(id, batch...)
	})
	if !ok {
		var rej *failover.RejectedError
		if errors.As(err, &rej) && !dup {
			h.checkRejection(t, op, rej, g, role, ids, want)
		}
		return
	}
	// Accepted: record what each standby had to beat, then add the batch.
	channels := recordingChannelsOf(g)
	for _, f := range batch {
		if role == failover.RoleStandby {
			h.md.joined[f.ID] = joining{facts: f.Clone(), recordingChannels: channels}
		}
		g.members = append(g.members, modelMember{id: f.ID, role: role, enabled: true, facts: f.Clone()})
	}
}

// checkRejection compares a *RejectedError with the model's refusals.
func (h *modelHarness) checkRejection(t *rapid.T, op string, rej *failover.RejectedError, g *modelGroup, role failover.Role,
	ids []nvrha.ServerID, want map[nvrha.ServerID][]eligibility.Code) {
	if rej.Role != role || rej.Group != g.name {
		t.Fatalf("%s: rejection for %s servers of %q; want %s of %q", op, rej.Role, rej.Group, role, g.name)
	}
	var order []nvrha.ServerID
	for _, sid := range ids {
		if _, ok := want[sid]; ok {
			order = append(order, sid)
		}
	}
	var got []nvrha.ServerID
	for _, r := range rej.Servers {
		got = append(got, r.Server)
		codes := slices.Clone(r.Reasons.Codes())
		wantCodes := slices.Clone(want[r.Server])
		slices.Sort(codes)
		slices.Sort(wantCodes)
		if !slices.Equal(codes, wantCodes) {
			t.Fatalf("%s: %s refused for %v; the model refuses it for %v", op, r.Server, r.Reasons.Codes(), want[r.Server])
		}
	}
	if !slices.Equal(got, order) {
		t.Fatalf("%s: refused servers %v; the model refuses %v", op, got, order)
	}
}

func (h *modelHarness) removeServers(t *rapid.T, role failover.Role) {
	id := h.groupIDGen().Draw(t, "group")
	g := h.md.group(id)
	var candidates []nvrha.ServerID
	if g != nil {
		for _, mem := range g.members {
			if mem.role == role {
				candidates = append(candidates, mem.id)
			}
		}
	}
	var ids []nvrha.ServerID
	if len(candidates) > 0 && rapid.IntRange(0, 2).Draw(t, "from members") > 0 {
		ids = rapid.SliceOfNDistinct(rapid.SampledFrom(candidates), 1, min(4, len(candidates)), rapid.ID).Draw(t, "servers")
	} else {
		ids = rapid.SliceOfN(rapid.SampledFrom(h.md.pool), 1, 4).Draw(t, "servers")
	}
	approved, a, refusal := true, failover.Approval{}, error(nil)
	if role == failover.RoleStandby {
		a, refusal = h.approval(t, failover.OpRemoveStandbyServers)
		approved = refusal == nil
	}

	var broken []error
	if !approved {
		broken = append(broken, refusal)
	}
	if g == nil {
		broken = append(broken, failover.ErrGroupNotFound)
	}
	if hasDuplicates(ids) {
		broken = append(broken, failover.ErrDuplicateServer)
	}
	if g != nil {
		for _, sid := range ids {
			if home, i := h.md.home(sid); home != g || home.members[i].role != role {
				broken = append(broken, failover.ErrNotMember)
				break
			}
		}
	}
	op := fmt.Sprintf("Remove %s servers %v from group %v (approved %v)", role, ids, id, approved)
	if _, ok := h.outcome(t, op, broken, func() error {
		if role == failover.RoleRecording {
			return h.m.RemoveRecordingServers(id, ids...)
		}
		return h.m.RemoveStandbyServers(id, a, ids...)
	}); !ok {
		return
	}
	if role == failover.RoleStandby {
		h.spent = append(h.spent, a)
	}
	g.members = slices.DeleteFunc(g.members, func(mem modelMember) bool { return slices.Contains(ids, mem.id) })
	for _, sid := range ids {
		delete(h.md.joined, sid)
	}
}

func (h *modelHarness) setServerEnabled(t *rapid.T) {
	sid := h.serverGen(true).Draw(t, "server")
	on := rapid.Bool().Draw(t, "enabled")
	g, i := h.md.home(sid)
	var broken []error
	if g == nil {
		broken = append(broken, failover.ErrServerNotFound)
	}
	var tks []failover.Takeover
	if _, ok := h.outcome(t, fmt.Sprintf("SetServerEnabled(%s, %v)", sid, on), broken, func() (err error) {
		tks, err = h.m.SetServerEnabled(sid, on)
		return err
	}); !ok {
		return
	}
	if len(tks) != 0 {
		t.Fatalf("SetServerEnabled(%s, %v) interrupted %v, but nothing was taken over", sid, on, tks)
	}
	g.members[i].enabled = on
}

func (h *modelHarness) updateFacts(t *rapid.T) {
	sid := h.serverGen(true).Draw(t, "server")
	f := factsGen(sid).Draw(t, "facts")
	valid := true
	switch rapid.IntRange(0, 7).Draw(t, "malformed") {
	case 0:
		f.LicenseChannels = -1
		valid = false
	case 1:
		f.Cameras = []nvrha.CameraID{"dup", "dup"}
		valid = false
	}
	g, i := h.md.home(sid)
	var broken []error
	if g == nil {
		broken = append(broken, failover.ErrServerNotFound)
	}
	if !valid {
		broken = append(broken, failover.ErrFactsChanged)
	}
	// The server's inventory changes whether or not the center is told.
	if valid {
		h.md.world[sid] = f.Clone()
	}
	if _, ok := h.outcome(t, fmt.Sprintf("UpdateFacts(%+v)", f), broken, func() error {
		return h.m.UpdateFacts(f)
	}); ok {
		g.members[i].facts = f.Clone()
	}
}

// check compares the Machine's snapshot with the model and checks the
// invariants of group management.
func (h *modelHarness) check(t *rapid.T) {
	if h.after != nil {
		defer h.after(h.m)
	}
	s := h.m.Snapshot()
	h.snaps.check(t, h.m)

	// Limits and the default group.
	if n := len(s.Groups); n < 1 || n > 16 {
		t.Fatalf("%d groups; a center holds 1 to 16", n)
	}
	if g := s.Groups[0]; g.ID != failover.DefaultGroupID || !g.Default {
		t.Fatalf("first group is %v %q (default %v); want the default group", g.ID, g.Name, g.Default)
	}
	seen := map[nvrha.ServerID]failover.GroupID{}
	for i, g := range s.Groups {
		if i > 0 && (g.Default || g.ID <= s.Groups[i-1].ID) {
			t.Fatalf("group %v: default %v, after %v; want one default group and IDs in order", g.ID, g.Default, s.Groups[i-1].ID)
		}
		if g.Capacity != h.md.capacity || len(g.Members) > g.Capacity {
			t.Fatalf("group %v has %d members, capacity %d; want at most %d", g.ID, len(g.Members), g.Capacity, h.md.capacity)
		}
		for _, mem := range g.Members {
			if other, dup := seen[mem.ID]; dup {
				t.Fatalf("%s is in groups %v and %v", mem.ID, other, g.ID)
			}
			seen[mem.ID] = g.ID
		}
	}

	// Every standby met every standby rule when it joined.
	for sid, j := range h.md.joined {
		if codes := judgeStandby(j.facts, j.recordingChannels); len(codes) > 0 || !modelSupported(j.facts.Product) || !j.facts.AdvancedMode {
			t.Fatalf("standby %s joined breaking %v (product %v, Advanced Mode %v)", sid, codes, j.facts.Product, j.facts.AdvancedMode)
		}
	}

	// The snapshot is the model.
	if len(s.Groups) != len(h.md.groups) {
		t.Fatalf("%d groups; the model has %d", len(s.Groups), len(h.md.groups))
	}
	for gi, mg := range h.md.groups {
		g := s.Groups[gi]
		if g.ID != mg.id || g.Name != mg.name || g.Protection != mg.protection || g.Default != (mg.id == 1) {
			t.Fatalf("group %d is %v %q protection %v; the model has %v %q protection %v",
				gi, g.ID, g.Name, g.Protection, mg.id, mg.name, mg.protection)
		}
		if len(g.Members) != len(mg.members) {
			t.Fatalf("group %v members %v; the model has %d", g.ID, memberIDs(g), len(mg.members))
		}
		for i, want := range mg.members {
			got := g.Members[i]
			if got.ID != want.id || got.Role != want.role || got.Enabled != want.enabled || got.Name != string(want.id) ||
				got.LicenseChannels != want.facts.LicenseChannels || got.Cameras != len(want.facts.Cameras) ||
				got.Health != nvrha.HealthUnknown || got.Peer != "" {
				t.Fatalf("group %v member %d is %+v; the model has %+v", g.ID, i, got, want)
			}
			// Never probed: not functional, so Abnormal unless disabled.
			wantRec, wantSb := status.Recording(0), status.Standby(0)
			switch {
			case want.role == failover.RoleRecording && want.enabled && mg.protection:
				wantRec = status.RecordingAbnormalUnprotected
			case want.role == failover.RoleRecording:
				wantRec = status.RecordingDisabled
			case want.enabled && mg.protection:
				wantSb = status.StandbyAbnormal
			default:
				wantSb = status.StandbyDisabled
			}
			if got.Recording != wantRec || got.Standby != wantSb {
				t.Fatalf("%s statuses %v / %v; want %v / %v", got.ID, got.Recording, got.Standby, wantRec, wantSb)
			}
		}
	}
}
