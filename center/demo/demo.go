// Package demo is a simulated fleet for trying the center without servers:
// the default Failover Group of 14 recording servers and 2 standbys that
// nvrsim runs, plus a few servers in no group so that the Add dialogs have
// something to offer and to refuse. Each server is a transport/agenttest
// Server reached through an in-memory transport; Crash and Restore stand in
// for pulling a server's plug and plugging it back.
package demo

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// The servers in no group.
const (
	// SpareStandby fits as a standby of any group of the demo.
	SpareStandby nvrha.ServerID = "spare-standby"
	// OldNVR has cameras of its own and 8 license channels, fewer than
	// the demo's recording servers: it is refused as a standby, for both.
	OldNVR nvrha.ServerID = "old-nvr"
	// NewRecorder is a recording server waiting to be protected.
	NewRecorder nvrha.ServerID = "new-recorder"
)

// Fleet is the simulated servers. Safe for concurrent use.
type Fleet struct {
	tr       *transport.InMemory
	servers  map[nvrha.ServerID]*agenttest.Server
	order    []nvrha.ServerID
	recs     []nvrha.Facts
	standbys []nvrha.Facts

	mu      sync.Mutex
	crashed map[nvrha.ServerID]bool
}

func facts(id nvrha.ServerID, channels, cameras int, empty bool) nvrha.Facts {
	f := nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 16 << 40, Empty: empty}}}
	for i := 1; i <= cameras; i++ {
		f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s/cam-%02d", id, i)))
	}
	return f
}

// New returns the fleet: rec-01 to rec-14 (16 license channels, 4 to 12
// cameras), standby-1 and standby-2 (32 channels, an empty recording
// space), and SpareStandby, OldNVR and NewRecorder in no group.
func New() *Fleet {
	f := &Fleet{tr: transport.NewInMemory(), servers: map[nvrha.ServerID]*agenttest.Server{}, crashed: map[nvrha.ServerID]bool{}}
	add := func(fa nvrha.Facts) {
		s := agenttest.New(fa)
		if err := f.tr.Register(fa.ID, s); err != nil {
			panic(err) // the IDs below are distinct
		}
		f.servers[fa.ID] = s
		f.order = append(f.order, fa.ID)
	}
	for i := 1; i <= 14; i++ {
		fa := facts(nvrha.ServerID(fmt.Sprintf("rec-%02d", i)), 16, 4+i%9, false)
		f.recs = append(f.recs, fa)
		add(fa)
	}
	for i := 1; i <= 2; i++ {
		fa := facts(nvrha.ServerID(fmt.Sprintf("standby-%d", i)), 32, 0, true)
		f.standbys = append(f.standbys, fa)
		add(fa)
	}
	add(facts(SpareStandby, 32, 0, true))
	add(facts(OldNVR, 8, 6, true))
	add(facts(NewRecorder, 16, 6, false))
	return f
}

// Transport reaches the fleet's servers.
func (f *Fleet) Transport() transport.Transport { return f.tr }

// Servers returns every server's ID, the group's first.
func (f *Fleet) Servers() []nvrha.ServerID { return slices.Clone(f.order) }

// Populate puts the default group's servers into "Failover Group 1" unless
// it has members already (a center restarted on a saved state).
func (f *Fleet) Populate(ctx context.Context, ctl *failover.Controller) error {
	snap, err := ctl.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, g := range snap.Groups {
		if g.Default && len(g.Members) > 0 {
			return nil
		}
	}
	// Standbys first: a recording server added to a group with no standby
	// is, truly, "Normal, unprotected" until one joins, and an operator
	// watching the demo start should not see that for every server.
	if err := ctl.AddStandbyServers(ctx, failover.DefaultGroupID, f.standbys...); err != nil {
		return err
	}
	return ctl.AddRecordingServers(ctx, failover.DefaultGroupID, f.recs...)
}

func (f *Fleet) server(id nvrha.ServerID) (*agenttest.Server, error) {
	s, ok := f.servers[id]
	if !ok {
		return nil, fmt.Errorf("demo: no server %q", id)
	}
	return s, nil
}

// Crash makes a server unreachable and stops its recording, as a power cut
// would.
func (f *Fleet) Crash(id nvrha.ServerID) error {
	s, err := f.server(id)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Crash()
	f.crashed[id] = true
	return nil
}

// Restore brings a crashed server back with the configuration it had.
func (f *Fleet) Restore(id nvrha.ServerID) error {
	s, err := f.server(id)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Restart()
	delete(f.crashed, id)
	return nil
}

// Crashed reports whether a server is crashed now.
func (f *Fleet) Crashed(id nvrha.ServerID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashed[id]
}
