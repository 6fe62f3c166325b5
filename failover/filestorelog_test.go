package failover_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// history is a Machine's changes as a store gets them: the whole State
// first, then change sets, each with the State it leads to.
type history struct {
	first   failover.State
	changes []failover.Changes
	states  []failover.State
}

// machineHistory runs a small center through joins, probes, a failure, a
// takeover, a failback and admin operations, and takes its changes along
// the way.
func machineHistory(t *testing.T) history {
	t.Helper()
	w := newWorld(t, failover.Config{Failback: failover.FailbackPolicy{HoldDown: time.Second}})
	w.addStandbys(failover.DefaultGroupID, standbyFacts("sb-1", 16))
	w.addRecordings(failover.DefaultGroupID, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	var h history
	h.first = *w.m.TakeChanges().Full
	take := func() {
		if c := w.m.TakeChanges(); !c.Empty() {
			h.changes = append(h.changes, c)
			h.states = append(h.states, w.m.State())
		}
	}
	for range 20 {
		w.run(100 * time.Millisecond)
		take()
	}
	w.servers["rec-1"].Crash()
	for range 40 {
		w.run(100 * time.Millisecond)
		take()
	}
	w.servers["rec-1"].Restart()
	for range 60 {
		w.run(100 * time.Millisecond)
		take()
	}
	g := mustAddGroup(t, w.m, "Annex")
	take()
	w.addRecordings(g, recordingFacts("rec-3", 8))
	w.run(time.Second)
	take()
	if err := w.m.SetServerPriority("rec-2", 5); err != nil {
		t.Fatal(err)
	}
	take()
	for _, on := range []bool{false, true} {
		if _, err := w.m.SetServerEnabled("rec-3", on); err != nil {
			t.Fatal(err)
		}
		w.run(time.Second)
		take()
	}
	if len(h.changes) < 8 {
		t.Fatalf("only %d change sets", len(h.changes))
	}
	return h
}

// sameState fails the test unless got encodes as want does.
func sameState(t *testing.T, what string, got, want failover.State) {
	t.Helper()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Fatalf("%s:\n%s", what, stateDiff(got, want))
	}
}

func mustApply(t *testing.T, s failover.DeltaStore, c failover.Changes) {
	t.Helper()
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// readDir returns the files of dir by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range dirNames(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	return out
}

// loadFiles writes files into a new directory and loads a FileStore there.
func loadFiles(t *testing.T, files map[string][]byte) (failover.State, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return failover.NewFileStore(filepath.Join(dir, "state.json")).Load(context.Background())
}

// TestFileStoreAppliesChanges checks the DeltaStore contract: changes
// applied one by one load as the Machine's State, a new FileStore on the
// same files loads it too, the snapshot is not rewritten for them, and a
// Save starts afresh without the log.
func TestFileStoreAppliesChanges(t *testing.T) {
	h := machineHistory(t)
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	mustApply(t, s, failover.Changes{Full: &h.first})
	snap, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range h.changes {
		mustApply(t, s, c)
		if i%7 == 0 || i == len(h.changes)-1 {
			sameState(t, fmt.Sprintf("Load after change set %d", i+1), mustLoad(t, s), h.states[i])
		}
	}
	sameState(t, "Load by a new FileStore", mustLoad(t, failover.NewFileStore(s.Path())), h.states[len(h.states)-1])
	if now, err := os.ReadFile(s.Path()); err != nil || !bytes.Equal(now, snap) {
		t.Errorf("the snapshot was rewritten for changes (%v)", err)
	}
	mustSave(t, s, h.first)
	if names := dirNames(t, filepath.Dir(s.Path())); !slices.Equal(names, []string{"state.json"}) {
		t.Errorf("after a Save the directory holds %v", names)
	}
	sameState(t, "Load after Save", mustLoad(t, s), h.first)
}

// TestFileStoreLogFormat checks the log against its documentation: a
// header naming the snapshot's generation, then one record per Apply, each
// length-prefixed, CRC-32C checked, and holding the Changes as JSON.
func TestFileStoreLogFormat(t *testing.T) {
	h := machineHistory(t)
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	mustSave(t, s, h.first)
	for _, c := range h.changes[:3] {
		mustApply(t, s, c)
	}
	if s.LogPath() != s.Path()+".log" {
		t.Errorf("LogPath %q", s.LogPath())
	}
	data, err := os.ReadFile(s.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for len(data) > 0 {
		n := binary.BigEndian.Uint32(data[0:4])
		sum := binary.BigEndian.Uint32(data[4:8])
		if crc32.Checksum(data[0:8], castagnoli) != binary.BigEndian.Uint32(data[8:12]) {
			t.Fatalf("record %d: header CRC-32C mismatch", len(payloads))
		}
		p := data[12 : 12+n]
		if crc32.Checksum(p, castagnoli) != sum {
			t.Fatalf("record %d: CRC-32C mismatch", len(payloads))
		}
		payloads = append(payloads, p)
		data = data[12+n:]
	}
	if len(payloads) != 4 {
		t.Fatalf("%d records, want a header and 3 change sets", len(payloads))
	}
	var snap struct{ Generation uint64 }
	if raw, err := os.ReadFile(s.Path()); err != nil || json.Unmarshal(raw, &snap) != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"format":%q,"version":%d,"generation":%d}`, failover.FileStoreLogFormat, failover.FileStoreLogVersion, snap.Generation)
	if string(payloads[0]) != want {
		t.Errorf("header %s, want %s", payloads[0], want)
	}
	for i, p := range payloads[1:] {
		want, _ := json.Marshal(h.changes[i])
		if !bytes.Equal(p, want) {
			t.Errorf("record %d is\n%s\nwant the Changes\n%s", i+1, p, want)
		}
	}
}

// TestFileStoreTornLastRecord cuts the log at every byte offset of its last
// record, as a crash in the middle of the append would: Load returns the
// State before the record or, whole, after it, never anything else; and
// the next Apply writes over the torn end.
func TestFileStoreTornLastRecord(t *testing.T) {
	h := machineHistory(t)
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	mustSave(t, s, h.first)
	last := len(h.changes) - 2
	for _, c := range h.changes[:last] {
		mustApply(t, s, c)
	}
	before := readDir(t, filepath.Dir(s.Path()))
	mustApply(t, s, h.changes[last])
	after := readDir(t, filepath.Dir(s.Path()))
	old, full := before["state.json.log"], after["state.json.log"]
	if !bytes.HasPrefix(full, old) || len(full) <= len(old) {
		t.Fatalf("the log went from %d to %d bytes, not by appending", len(old), len(full))
	}
	for n := len(old); n <= len(full); n++ {
		files := maps.Clone(after)
		files["state.json.log"] = full[:n]
		got, err := loadFiles(t, files)
		if err != nil {
			t.Fatalf("log cut to %d of %d bytes: %v", n, len(full), err)
		}
		want := h.states[last-1]
		if n == len(full) {
			want = h.states[last]
		}
		sameState(t, fmt.Sprintf("log cut to %d of %d bytes", n, len(full)), got, want)
	}
	// Restarted from a torn log, the store writes the next record over
	// the torn end.
	dir := t.TempDir()
	for name, data := range after {
		if name == "state.json.log" {
			data = full[:len(old)+(len(full)-len(old))/2]
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := failover.NewFileStore(filepath.Join(dir, "state.json"))
	sameState(t, "Load of the torn log", mustLoad(t, s2), h.states[last-1])
	mustApply(t, s2, h.changes[last])
	mustApply(t, s2, h.changes[last+1])
	sameState(t, "Load after appending over the torn end", mustLoad(t, failover.NewFileStore(s2.Path())), h.states[last+1])
}

// TestFileStoreLogDamage: a log end a crash left unwritten (zeros) is
// torn, and ignored; damage anywhere else is ErrCorruptStore.
func TestFileStoreLogDamage(t *testing.T) {
	h := machineHistory(t)
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	mustSave(t, s, h.first)
	for _, c := range h.changes[:4] {
		mustApply(t, s, c)
	}
	files := readDir(t, filepath.Dir(s.Path()))
	log := files["state.json.log"]
	// Where the last record starts: after the header and three records.
	starts := []int{0}
	for off := 0; off < len(log); {
		off += 12 + int(binary.BigEndian.Uint32(log[off:]))
		starts = append(starts, off)
	}
	lastAt := starts[len(starts)-2]
	with := func(log []byte) map[string][]byte {
		f := maps.Clone(files)
		f["state.json.log"] = log
		return f
	}
	t.Run("zeros after the last record", func(t *testing.T) {
		got, err := loadFiles(t, with(append(bytes.Clone(log), make([]byte, 4096)...)))
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, "Load", got, h.states[3])
	})
	t.Run("last record ending in zeros", func(t *testing.T) {
		bad := bytes.Clone(log)
		clear(bad[max(len(bad)-600, lastAt+12):])
		got, err := loadFiles(t, with(bad))
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, "Load", got, h.states[2])
	})
	for name, bad := range map[string][]byte{
		"a byte of the last record flipped":   flip(log, len(log)-3),
		"a byte of an earlier record flipped": flip(log, lastAt-3),
		"a byte of the header flipped":        flip(log, 12),
		"an earlier record's length":          flip(log, starts[1]+2),
		"the last record's length":            flip(log, lastAt+3),
		"garbage after the last record":       append(bytes.Clone(log), "garbage, not zeros"...),
		"zeros inside the log":                zeroed(log, starts[1], starts[2]),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadFiles(t, with(bad)); !errors.Is(err, failover.ErrCorruptStore) {
				t.Fatalf("Load: %v, want ErrCorruptStore", err)
			}
		})
	}
	t.Run("a log newer than the snapshot", func(t *testing.T) {
		f := maps.Clone(files)
		var env map[string]json.RawMessage
		if err := json.Unmarshal(f["state.json"], &env); err != nil {
			t.Fatal(err)
		}
		var gen uint64
		if err := json.Unmarshal(env["generation"], &gen); err != nil {
			t.Fatal(err)
		}
		f["state.json"] = envelopeFileGen(failover.FileStoreFormat, failover.FileStoreVersion, gen-1, env["state"])
		if _, err := loadFiles(t, f); !errors.Is(err, failover.ErrCorruptStore) {
			t.Fatalf("Load: %v, want ErrCorruptStore", err)
		}
	})
	t.Run("a log without a snapshot", func(t *testing.T) {
		f := maps.Clone(files)
		delete(f, "state.json")
		if _, err := loadFiles(t, f); !errors.Is(err, failover.ErrCorruptStore) || errors.Is(err, failover.ErrNoState) {
			t.Fatalf("Load: %v, want ErrCorruptStore", err)
		}
	})
	t.Run("a log of another format", func(t *testing.T) {
		head := []byte(`{"format":"nvrha-state-log","version":9,"generation":1}`)
		castagnoli := crc32.MakeTable(crc32.Castagnoli)
		bad := binary.BigEndian.AppendUint32(nil, uint32(len(head)))
		bad = binary.BigEndian.AppendUint32(bad, crc32.Checksum(head, castagnoli))
		bad = binary.BigEndian.AppendUint32(bad, crc32.Checksum(bad, castagnoli))
		if _, err := loadFiles(t, with(append(bad, head...))); !errors.Is(err, failover.ErrUnknownStoreFormat) {
			t.Fatalf("Load: %v, want ErrUnknownStoreFormat", err)
		}
	})
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x40
	return b
}

func zeroed(b []byte, from, to int) []byte {
	b = bytes.Clone(b)
	clear(b[from:to])
	return b
}

// TestFileStoreCompactionCrash crashes the Apply that compacts the log,
// and the next one, which starts a new log, at every step and at every
// byte offset of the temporary files they write: Load returns the State
// before the Apply or after it, never anything else, and the store goes on
// from there.
func TestFileStoreCompactionCrash(t *testing.T) {
	h := machineHistory(t)
	dir := t.TempDir()
	s := failover.NewFileStore(filepath.Join(dir, "state.json"))
	// With a limit of one byte, the log is compacted as soon as it grows
	// past the snapshot.
	s.SetLogLimit(1)
	mustSave(t, s, h.first)
	var crashes []map[string][]byte
	var steps []string
	defer failover.SetFileStoreStep(func(step string) {
		steps = append(steps, step)
		crashes = append(crashes, readDir(t, dir))
	})()
	compacted := -1
	for i, c := range h.changes {
		crashes, steps = nil, nil
		mustApply(t, s, c)
		if slices.Contains(steps, "rename state.json") {
			compacted = i
			break
		}
	}
	if compacted < 1 || compacted+1 >= len(h.changes) {
		t.Fatalf("no compaction between the first and the last change set (steps %v)", steps)
	}
	for _, i := range []int{compacted, compacted + 1} {
		if i > compacted {
			crashes, steps = nil, nil
			mustApply(t, s, h.changes[i])
		}
		want := []string{"append", "appended", "rename state.json", "renamed state.json"}
		if i > compacted {
			want = []string{"rename state.json.log", "renamed state.json.log"}
		}
		if !slices.Equal(steps, want) {
			t.Fatalf("steps of Apply %d: %v, want %v", i, steps, want)
		}
		crashes = append(crashes, readDir(t, dir))
		steps = append(steps, "the end")
		if i == compacted {
			if _, ok := crashes[len(crashes)-1]["state.json.log"]; ok {
				t.Errorf("the log is still there after the compaction")
			}
		}
		for k, files := range crashes {
			what := fmt.Sprintf("Apply %d, crash at %s", i, steps[k])
			checkCrash(t, what, files, h, i)
			for name, data := range files {
				if !strings.Contains(name, ".tmp-") {
					continue
				}
				// The same files, the temporary one cut short.
				d := t.TempDir()
				for name, data := range files {
					if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				for n := range len(data) {
					if err := os.WriteFile(filepath.Join(d, name), data[:n], 0o600); err != nil {
						t.Fatal(err)
					}
					got, err := failover.NewFileStore(filepath.Join(d, "state.json")).Load(context.Background())
					if err != nil {
						t.Fatalf("%s, %s cut to %d of %d bytes: Load: %v", what, name, n, len(data), err)
					}
					if whichState(got, h, i) < 0 {
						t.Fatalf("%s, %s cut to %d of %d bytes: Load returned a State that is neither the one before nor the one after:\n%s",
							what, name, n, len(data), stateDiff(got, h.states[i]))
					}
				}
			}
		}
	}
}

// whichState returns 0 if st is the State before change set i, 1 if it
// is the one after, -1 otherwise.
func whichState(st failover.State, h history, i int) int {
	a := must(json.Marshal(st))
	switch {
	case bytes.Equal(a, must(json.Marshal(h.states[i-1]))):
		return 0
	case bytes.Equal(a, must(json.Marshal(h.states[i]))):
		return 1
	}
	return -1
}

// checkCrash checks the files a crash during Apply i left: they load as
// the State before it or after it, and the rest of the changes apply from
// there.
func checkCrash(t *testing.T, what string, files map[string][]byte, h history, i int) {
	t.Helper()
	d := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := failover.NewFileStore(filepath.Join(d, "state.json"))
	got, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("%s: Load: %v", what, err)
	}
	after := whichState(got, h, i)
	if after < 0 {
		t.Fatalf("%s: Load returned a State that is neither the one before nor the one after:\n%s", what, stateDiff(got, h.states[i]))
	}
	for _, c := range h.changes[i+after:] {
		mustApply(t, s, c)
	}
	sameState(t, what+", then the rest applied", mustLoad(t, failover.NewFileStore(s.Path())), h.states[len(h.states)-1])
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFileStoreMigratesVersion1 reads the single file of earlier builds
// and replaces it with a snapshot of the current version at the first
// Apply, which earlier builds refuse rather than read without the log.
func TestFileStoreMigratesVersion1(t *testing.T) {
	h := machineHistory(t)
	raw, err := json.Marshal(h.first)
	if err != nil {
		t.Fatal(err)
	}
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	writeFile(t, s, envelopeFile(failover.FileStoreFormat, 1, raw))
	sameState(t, "Load of a version 1 file", mustLoad(t, s), h.first)
	mustApply(t, s, h.changes[0])
	var env struct {
		Version    int
		Generation uint64
	}
	if data, err := os.ReadFile(s.Path()); err != nil || json.Unmarshal(data, &env) != nil || env.Version != failover.FileStoreVersion || env.Generation != 1 {
		t.Fatalf("after the first Apply the snapshot is version %d generation %d (%v)", env.Version, env.Generation, err)
	}
	for _, c := range h.changes[1:] {
		mustApply(t, s, c)
	}
	sameState(t, "Load after the migration", mustLoad(t, failover.NewFileStore(s.Path())), h.states[len(h.states)-1])
}

// TestFileStoreRefusesChanges: Apply with nothing saved, with changes that
// do not fit, or after a write that failed, is refused with
// ErrStoreNeedsState and writes nothing; a Save sets the store right.
func TestFileStoreRefusesChanges(t *testing.T) {
	h := machineHistory(t)
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	if err := s.Apply(context.Background(), h.changes[0]); !errors.Is(err, failover.ErrStoreNeedsState) || !errors.Is(err, failover.ErrNoState) {
		t.Fatalf("Apply with nothing saved: %v, want ErrStoreNeedsState and ErrNoState", err)
	}
	mustSave(t, s, h.first)
	misfit := failover.Changes{NextGroupID: 9, NextCommandID: 9, Members: []failover.MemberChange{{Server: "nobody", Group: 1,
		Member: failover.MemberState{Facts: nvrha.Facts{ID: "nobody"}}}}}
	if err := s.Apply(context.Background(), misfit); !errors.Is(err, failover.ErrStoreNeedsState) || !errors.Is(err, failover.ErrCorruptState) {
		t.Fatalf("Apply of changes that do not fit: %v, want ErrStoreNeedsState", err)
	}
	if _, err := os.Stat(s.LogPath()); err == nil {
		t.Fatal("refused changes were written")
	}
	mustApply(t, s, h.changes[0])
	if runtime := os.Geteuid(); runtime != 0 {
		// A log that cannot be written fails the Apply; the next one is
		// refused, since the failed one may have landed.
		if err := os.Chmod(s.LogPath(), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(context.Background(), h.changes[1]); err == nil {
			t.Fatal("Apply to a read-only log succeeded")
		}
		if err := os.Chmod(s.LogPath(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(context.Background(), h.changes[1]); !errors.Is(err, failover.ErrStoreNeedsState) {
			t.Fatalf("Apply after a failed one: %v, want ErrStoreNeedsState", err)
		}
		mustSave(t, s, h.states[1])
		mustApply(t, s, h.changes[2])
		sameState(t, "Load after Save and Apply", mustLoad(t, s), h.states[2])
	}
}

// TestDeltaStores checks what every DeltaStore of the package promises:
// Changes applied in order load as the Machine's State; Apply with nothing
// saved, or of changes that do not fit, is refused with
// ErrStoreNeedsState and changes nothing; a Save starts afresh.
func TestDeltaStores(t *testing.T) {
	for _, kind := range []struct {
		name string
		new  func(t *testing.T) failover.DeltaStore
	}{
		{"MemoryStore", func(*testing.T) failover.DeltaStore { return new(failover.MemoryStore) }},
		{"FileStore", func(t *testing.T) failover.DeltaStore {
			return failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			h := machineHistory(t)
			s := kind.new(t)
			if err := s.Apply(context.Background(), h.changes[0]); !errors.Is(err, failover.ErrStoreNeedsState) {
				t.Fatalf("Apply with nothing saved: %v, want ErrStoreNeedsState", err)
			}
			mustApply(t, s, failover.Changes{Full: &h.first})
			for _, c := range h.changes[:3] {
				mustApply(t, s, c)
			}
			sameState(t, "Load", mustLoad(t, s), h.states[2])
			misfit := failover.Changes{NextGroupID: 9, NextCommandID: 9, Takeovers: []failover.TakeoverChange{{Recording: "nobody",
				Takeover: failover.TakeoverState{Recording: "nobody", Phase: failover.PhaseActive}}}}
			if err := s.Apply(context.Background(), misfit); !errors.Is(err, failover.ErrStoreNeedsState) {
				t.Fatalf("Apply of changes that do not fit: %v, want ErrStoreNeedsState", err)
			}
			sameState(t, "Load after a refused Apply", mustLoad(t, s), h.states[2])
			mustApply(t, s, h.changes[3])
			sameState(t, "Load after the next Apply", mustLoad(t, s), h.states[3])
			mustSave(t, s, h.states[3])
			for _, c := range h.changes[4:] {
				mustApply(t, s, c)
			}
			sameState(t, "Load after Save and Apply", mustLoad(t, s), h.states[len(h.states)-1])
		})
	}
}
