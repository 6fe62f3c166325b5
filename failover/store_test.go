package failover_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// storeNow is the restart time of the round-trip tests.
//
// Every time in the States these tests save is a UTC wall-clock value from
// time.Date (or epoch0 plus a duration), with no monotonic reading. JSON
// keeps such a value exactly, location included, so reflect.DeepEqual is an
// exact comparison here. A time.Now() value would lose its monotonic reading
// and come back with a different *time.Location, equal only by time.Equal;
// TestStoreKeepsInstants covers that case.
var storeNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// storeKinds are the Store implementations every contract test runs on.
var storeKinds = []struct {
	name string
	new  func(t *testing.T) failover.Store
}{
	{"MemoryStore", func(*testing.T) failover.Store { return new(failover.MemoryStore) }},
	{"FileStore", func(t *testing.T) failover.Store {
		return failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	}},
}

// storeRecording returns the facts of a recording server with channels
// licensed and n cameras.
func storeRecording(id nvrha.ServerID, channels, n int) nvrha.Facts {
	f := nvrha.Facts{
		ID:              id,
		Name:            "Recorder " + string(id),
		Product:         nvrha.ProductQVRPro,
		AdvancedMode:    true,
		LicenseChannels: channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "v1", CapacityBytes: 4 << 40}},
	}
	for i := range n {
		f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s-cam-%d", id, i+1)))
	}
	return f
}

// storeStandby returns the facts of an eligible standby server.
func storeStandby(id nvrha.ServerID, channels int) nvrha.Facts {
	return nvrha.Facts{
		ID:              id,
		Product:         nvrha.ProductQVRPro,
		AdvancedMode:    true,
		LicenseChannels: channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "v1", Empty: true}},
	}
}

// storeMachine returns a Machine with the default group holding one
// recording server and one standby, and a second group "Lobby" with two of
// each, its protection switched off.
func storeMachine(t testing.TB) *failover.Machine {
	t.Helper()
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.AddRecordingServers(failover.DefaultGroupID, storeRecording("rec-a", 16, 3)))
	must(m.AddStandbyServers(failover.DefaultGroupID, storeStandby("sb-a", 16)))
	lobby, err := m.AddGroup("Lobby")
	must(err)
	must(m.AddRecordingServers(lobby, storeRecording("rec-b", 8, 2), storeRecording("rec-c", 32, 4)))
	must(m.AddStandbyServers(lobby, storeStandby("sb-b", 32), storeStandby("sb-c", 64)))
	_, err = m.SetProtection(lobby, false)
	must(err)
	return m
}

func mustSave(t testing.TB, s failover.Store, st failover.State) {
	t.Helper()
	if err := s.Save(context.Background(), st); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func mustLoad(t testing.TB, s failover.Store) failover.State {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return st
}

func TestStoreRoundTrip(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			m := storeMachine(t)
			want := m.State()
			if len(want.Groups) != 2 || len(want.Groups[1].Members) != 4 {
				t.Fatalf("fixture has groups %+v", want.Groups)
			}
			s := kind.new(t)
			mustSave(t, s, m.State())
			loaded := mustLoad(t, s)
			if !reflect.DeepEqual(loaded, want) {
				t.Fatalf("Load returned\n%+v\nwant\n%+v", loaded, want)
			}
			restored, err := failover.RestoreMachine(failover.Config{}, loaded, storeNow)
			if err != nil {
				t.Fatalf("RestoreMachine: %v", err)
			}
			got := restored.State()
			// A restore moves command IDs well past the saved ones, so a
			// late answer from before the restart never matches a new command.
			if got.NextCommandID <= want.NextCommandID {
				t.Errorf("restored NextCommandID %d, not past the saved %d", got.NextCommandID, want.NextCommandID)
			}
			got.NextCommandID = want.NextCommandID
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored State\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestStoreRoundTripMidTakeover saves a center in the middle of a takeover,
// with epochs, a ledger and failover times in its State, and restarts it.
func TestStoreRoundTripMidTakeover(t *testing.T) {
	w := newWorld(t, failover.Config{})
	rec, sb := storeRecording("rec-1", 16, 2), storeStandby("sb-1", 16)
	w.serve(rec, sb)
	if err := w.m.AddRecordingServers(failover.DefaultGroupID, rec); err != nil {
		t.Fatal(err)
	}
	if err := w.m.AddStandbyServers(failover.DefaultGroupID, sb); err != nil {
		t.Fatal(err)
	}
	w.run(3 * time.Second)
	w.servers["rec-1"].Crash()
	if _, ok := w.until(10*time.Second, func() bool { return w.covering("sb-1") == "rec-1" }); !ok {
		t.Fatalf("no takeover; events: %v", w.events)
	}
	w.run(time.Second)
	want := w.m.State()
	if len(want.Takeovers) != 1 || len(want.Epochs) == 0 || len(want.Ledger) == 0 {
		t.Fatalf("fixture is not mid-takeover: %+v", want)
	}

	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.new(t)
			mustSave(t, s, want)
			loaded := mustLoad(t, s)
			if !reflect.DeepEqual(loaded, want) {
				t.Fatalf("Load returned\n%+v\nwant\n%+v", loaded, want)
			}
			restored, err := failover.RestoreMachine(w.cfg, loaded, w.now)
			if err != nil {
				t.Fatalf("RestoreMachine: %v", err)
			}
			got := restored.State()
			// The restored takeover is ordered again, which takes a new
			// command ID: only that counter may move, and only up.
			if got.NextCommandID < want.NextCommandID {
				t.Errorf("NextCommandID went back from %d to %d", want.NextCommandID, got.NextCommandID)
			}
			got.NextCommandID = want.NextCommandID
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored State\n%+v\nwant\n%+v", got, want)
			}
			if e := restored.Epoch("rec-1"); e == 0 || e != w.m.Epoch("rec-1") {
				t.Errorf("restored epoch %d, before the restart %d", e, w.m.Epoch("rec-1"))
			}
		})
	}
}

// TestStoreKeepsInstants saves times that JSON cannot keep bit for bit (a
// monotonic reading, a zone other than UTC) and checks that they come back
// as the same instants.
func TestStoreKeepsInstants(t *testing.T) {
	m := storeMachine(t)
	st := m.State()
	since := time.Now()
	zoned := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("UTC-3", -3*3600))
	st.Epochs = []failover.EpochState{{Server: "rec-a", Epoch: 7}}
	st.Takeovers = []failover.TakeoverState{{Recording: "rec-a", Standby: "sb-a", Epoch: 7, Since: since, Started: zoned, Phase: failover.PhaseActive}}
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.new(t)
			mustSave(t, s, st)
			got := mustLoad(t, s)
			if len(got.Takeovers) != 1 {
				t.Fatalf("takeovers %+v", got.Takeovers)
			}
			tk := got.Takeovers[0]
			if !tk.Since.Equal(since) || !tk.Started.Equal(zoned) {
				t.Errorf("times came back as %v, %v; want the instants %v, %v", tk.Since, tk.Started, since, zoned)
			}
		})
	}
}

// TestStoreLeavesStateVersionToRestore checks that a Store hands back a
// State of another version as it is, for RestoreMachine to refuse.
func TestStoreLeavesStateVersionToRestore(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			st := storeMachine(t).State()
			st.Version = failover.StateVersion + 1
			s := kind.new(t)
			mustSave(t, s, st)
			got := mustLoad(t, s)
			if got.Version != failover.StateVersion+1 || len(got.Groups) != 2 {
				t.Fatalf("Load changed the State: version %d, %d groups", got.Version, len(got.Groups))
			}
			if _, err := failover.RestoreMachine(failover.Config{}, got, storeNow); !errors.Is(err, failover.ErrUnknownStateVersion) {
				t.Errorf("RestoreMachine: %v, want ErrUnknownStateVersion", err)
			}
		})
	}
}

func TestStoreCancelledContext(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.new(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.Save(ctx, storeMachine(t).State()); !errors.Is(err, context.Canceled) {
				t.Fatalf("Save with a cancelled context: %v", err)
			}
			if _, err := s.Load(context.Background()); !errors.Is(err, failover.ErrNoState) {
				t.Fatalf("after a cancelled Save, Load: %v, want ErrNoState", err)
			}
			mustSave(t, s, storeMachine(t).State())
			if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Load with a cancelled context: %v", err)
			}
		})
	}
}

func TestMemoryStoreLoadBeforeSave(t *testing.T) {
	var s failover.MemoryStore
	st, err := s.Load(context.Background())
	if !errors.Is(err, failover.ErrNoState) {
		t.Fatalf("Load of a new MemoryStore: %v, want ErrNoState", err)
	}
	if !reflect.DeepEqual(st, failover.State{}) {
		t.Errorf("Load returned %+v with its error", st)
	}
	if n := s.Saves(); n != 0 {
		t.Errorf("Saves() = %d", n)
	}
}

func TestMemoryStoreCopiesOnSave(t *testing.T) {
	m := storeMachine(t)
	var s failover.MemoryStore
	st := m.State()
	mustSave(t, &s, st)

	st.Groups = append(st.Groups, failover.GroupState{ID: 9, Name: "Added after Save"})
	st.Groups[0].Name = "Renamed after Save"
	st.Groups[0].Members[0].Facts.Cameras[0] = "changed-after-save"
	st.Groups[1].Members = st.Groups[1].Members[:1]
	st.NextGroupID = 99

	if got, want := mustLoad(t, &s), m.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes after Save reached the store:\n%+v\nwant\n%+v", got, want)
	}
	if n := s.Saves(); n != 1 {
		t.Errorf("Saves() = %d, want 1", n)
	}
}

func TestMemoryStoreCopiesOnLoad(t *testing.T) {
	m := storeMachine(t)
	var s failover.MemoryStore
	mustSave(t, &s, m.State())
	first := mustLoad(t, &s)
	first.Groups[0].Name = "Changed"
	first.Groups[0].Members[0].Facts.Cameras[0] = "changed-after-load"
	first.Groups[1].Members[0].Facts.RecordingSpaces[0].Empty = false
	if got, want := mustLoad(t, &s), m.State(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes to a loaded State reached the store:\n%+v\nwant\n%+v", got, want)
	}
}

// TestMemoryStoreConcurrent saves and loads from many goroutines; run it
// with -race.
func TestMemoryStoreConcurrent(t *testing.T) {
	var s failover.MemoryStore
	base := storeMachine(t).State()
	const writers, rounds = 8, 50
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range rounds {
				st := base
				st.NextCommandID = uint64(i*rounds + j + 1)
				if err := s.Save(context.Background(), st); err != nil {
					t.Error(err)
					return
				}
				got, err := s.Load(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if got.NextCommandID == 0 || got.NextCommandID > writers*rounds {
					t.Errorf("loaded a State never saved: NextCommandID %d", got.NextCommandID)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := s.Saves(); n != writers*rounds {
		t.Errorf("Saves() = %d, want %d", n, writers*rounds)
	}
}
