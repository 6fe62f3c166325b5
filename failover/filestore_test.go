package failover_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
)

// savedFile saves the fixture State to a new FileStore and returns the
// store, the State and the file's bytes.
func savedFile(t *testing.T) (*failover.FileStore, failover.State, []byte) {
	t.Helper()
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	st := storeMachine(t).State()
	mustSave(t, s, st)
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return s, st, data
}

// writeFile replaces the store's file with data.
func writeFile(t *testing.T, s *failover.FileStore, data []byte) {
	t.Helper()
	if err := os.WriteFile(s.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// envelopeFile builds a snapshot the way FileStore's documentation
// describes it, of generation 0, with a correct checksum of raw: a version
// 1 file as earlier builds wrote it, or one of a later version.
func envelopeFile(format string, version int, raw []byte) []byte {
	return envelopeFileGen(format, version, 0, raw)
}

// envelopeFileGen is envelopeFile of generation gen.
func envelopeFileGen(format string, version int, gen uint64, raw []byte) []byte {
	if version == 1 {
		sum := sha256.Sum256(raw)
		return fmt.Appendf(nil, `{"format":%q,"version":%d,"sha256":"%s","state":%s}`+"\n",
			format, version, hex.EncodeToString(sum[:]), raw)
	}
	sum := sha256.Sum256(append(fmt.Appendf(nil, "%d\n", gen), raw...))
	return fmt.Appendf(nil, `{"format":%q,"version":%d,"generation":%d,"sha256":"%s","state":%s}`+"\n",
		format, version, gen, hex.EncodeToString(sum[:]), raw)
}

// loadFails checks that Load fails with want and returns no State.
func loadFails(t *testing.T, s *failover.FileStore, want error) error {
	t.Helper()
	st, err := s.Load(context.Background())
	if !errors.Is(err, want) {
		t.Fatalf("Load: %v, want %v", err, want)
	}
	if !reflect.DeepEqual(st, failover.State{}) {
		t.Fatalf("Load returned a State with its error: %+v", st)
	}
	return err
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileStorePath(t *testing.T) {
	p := filepath.Join("var", "lib", "nvrha", "state.json")
	if got := failover.NewFileStore(p).Path(); got != p {
		t.Errorf("Path() = %q, want %q", got, p)
	}
}

// TestFileStoreFormat checks the file against its documentation, in both
// directions: what Save writes has the documented layout, and a file
// written by hand to that layout loads.
func TestFileStoreFormat(t *testing.T) {
	s, st, data := savedFile(t)
	if !bytes.HasSuffix(data, []byte("}\n")) || bytes.Count(data, []byte("\n")) != 1 {
		t.Errorf("not one line ending in a newline: %q", data)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(env))
	if !slices.Equal(keys, []string{"format", "generation", "sha256", "state", "version"}) {
		t.Errorf("keys %v", keys)
	}
	if string(env["format"]) != `"nvrha-state"` || string(env["version"]) != "2" || string(env["generation"]) != "1" {
		t.Errorf("format %s version %s generation %s", env["format"], env["version"], env["generation"])
	}
	sum := sha256.Sum256(append([]byte("1\n"), env["state"]...))
	if string(env["sha256"]) != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Errorf("sha256 %s does not match the generation and the state bytes (%x)", env["sha256"], sum)
	}
	var inner failover.State
	if err := json.Unmarshal(env["state"], &inner); err != nil || !reflect.DeepEqual(inner, st) {
		t.Errorf("state value decodes to %+v, %v", inner, err)
	}

	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s, envelopeFileGen(failover.FileStoreFormat, failover.FileStoreVersion, 9, raw))
	if got := mustLoad(t, s); !reflect.DeepEqual(got, st) {
		t.Errorf("hand-written file loads as %+v", got)
	}
	// The single file of earlier builds, version 1, loads as well.
	writeFile(t, s, envelopeFile(failover.FileStoreFormat, 1, raw))
	if got := mustLoad(t, s); !reflect.DeepEqual(got, st) {
		t.Errorf("hand-written version 1 file loads as %+v", got)
	}
}

func TestFileStoreMissingFile(t *testing.T) {
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	err := loadFails(t, s, failover.ErrNoState)
	if errors.Is(err, failover.ErrCorruptStore) || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("error %q", err)
	}
}

func TestFileStoreMissingDirectory(t *testing.T) {
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "not-mounted", "state.json"))
	if err := s.Save(context.Background(), storeMachine(t).State()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Save into a missing directory: %v", err)
	}
	// Load must not report "never saved": the volume may simply be absent.
	st, err := s.Load(context.Background())
	if err == nil || errors.Is(err, failover.ErrNoState) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load from a missing directory: %v", err)
	}
	if !reflect.DeepEqual(st, failover.State{}) {
		t.Errorf("Load returned %+v with its error", st)
	}
}

func TestFileStoreChecksumMismatch(t *testing.T) {
	s, _, data := savedFile(t)
	i := bytes.Index(data, []byte(`"Lobby"`))
	if i < 0 {
		t.Fatalf("no group name in %s", data)
	}
	data[i+1] = 'l' // "lobby": still valid JSON, different bytes
	if !json.Valid(data) {
		t.Fatal("the edit broke the JSON; it should only break the checksum")
	}
	writeFile(t, s, data)
	err := loadFails(t, s, failover.ErrCorruptStore)
	if !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), s.Path()) {
		t.Errorf("error %q does not name the checksum and the path", err)
	}
}

// TestFileStoreEveryByteFlip flips each byte of a saved file in turn: no
// flip may load, and one inside the state is always ErrCorruptStore.
func TestFileStoreEveryByteFlip(t *testing.T) {
	s, _, data := savedFile(t)
	start := bytes.Index(data, []byte(`"state":`)) + len(`"state":`)
	end := bytes.LastIndexByte(data, '}') // the envelope's closing brace
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		writeFile(t, s, bad)
		st, err := s.Load(context.Background())
		if err == nil {
			t.Fatalf("byte %d flipped (%q -> %q) and Load accepted it", i, data[i], bad[i])
		}
		if !reflect.DeepEqual(st, failover.State{}) {
			t.Fatalf("byte %d: Load returned a State with its error", i)
		}
		if i >= start && i < end && !errors.Is(err, failover.ErrCorruptStore) {
			t.Fatalf("byte %d of the state flipped: %v, want ErrCorruptStore", i, err)
		}
		if errors.Is(err, failover.ErrNoState) {
			t.Fatalf("byte %d: %v reports no state for a file that exists", i, err)
		}
	}
}

func TestFileStoreTruncated(t *testing.T) {
	s, _, data := savedFile(t)
	// Dropping only the final newline leaves the object whole.
	for n := range len(data) - 1 {
		writeFile(t, s, data[:n])
		st, err := s.Load(context.Background())
		if !errors.Is(err, failover.ErrCorruptStore) {
			t.Fatalf("file cut to %d of %d bytes: %v, want ErrCorruptStore", n, len(data), err)
		}
		if !reflect.DeepEqual(st, failover.State{}) {
			t.Fatalf("cut to %d: Load returned a State with its error", n)
		}
	}
}

func TestFileStoreEmptyFile(t *testing.T) {
	for _, data := range []string{"", "\n", "   \n\t"} {
		s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
		writeFile(t, s, []byte(data))
		loadFails(t, s, failover.ErrCorruptStore)
	}
}

func TestFileStoreGarbage(t *testing.T) {
	for _, data := range []string{
		"garbage",
		"\x00\x01\x02\xff\xfe",
		"null",
		"[1,2,3]",
		`"nvrha-state"`,
		"42",
		`{"format":"nvrha-state","version":1,`,
		`{"format":"nvrha-state","version":1,"sha256":"zz","state":{}}`,
		`{"format":"nvrha-state","version":1,"sha256":"` + strings.Repeat("0", 64) + `","state":{}}`,
		`{"format":"nvrha-state","version":1,"sha256":"","state":{}} trailing`,
	} {
		s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
		writeFile(t, s, []byte(data))
		st, err := s.Load(context.Background())
		if !errors.Is(err, failover.ErrCorruptStore) || !reflect.DeepEqual(st, failover.State{}) {
			t.Errorf("Load of %q: %+v, %v; want ErrCorruptStore", data, st, err)
		}
	}
}

// TestFileStoreBadState checks a file whose checksum is right but whose
// state is not a State.
func TestFileStoreBadState(t *testing.T) {
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	writeFile(t, s, envelopeFile(failover.FileStoreFormat, failover.FileStoreVersion, []byte(`{"groups":"not a list"}`)))
	loadFails(t, s, failover.ErrCorruptStore)
}

func TestFileStoreUnknownFormat(t *testing.T) {
	raw, err := json.Marshal(storeMachine(t).State())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"version 99":        envelopeFile(failover.FileStoreFormat, 99, raw),
		"version 0":         envelopeFile(failover.FileStoreFormat, 0, raw),
		"other format":      envelopeFile("other-state", 1, raw),
		"bare state":        raw,
		"empty JSON object": []byte("{}"),
	} {
		t.Run(name, func(t *testing.T) {
			s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
			writeFile(t, s, data)
			err := loadFails(t, s, failover.ErrUnknownStoreFormat)
			if errors.Is(err, failover.ErrCorruptStore) || !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestFileStoreOversized(t *testing.T) {
	s, _, _ := savedFile(t)
	// A sparse file: the store must refuse it without reading it.
	if err := os.Truncate(s.Path(), failover.MaxStateFileSize+1); err != nil {
		t.Fatal(err)
	}
	loadFails(t, s, failover.ErrCorruptStore)
}

func TestFileStoreIgnoresStaleTemp(t *testing.T) {
	s, st, data := savedFile(t)
	dir := filepath.Dir(s.Path())
	// What a crash mid-save leaves: a temp file, half written.
	stale := filepath.Join(dir, ".state.json.tmp-123456")
	if err := os.WriteFile(stale, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	// Files that only look alike, which no Save of state.json made.
	others := []string{".state.json.tmp-abc", ".other.json.tmp-1", "state.json.bak", ".state.json.tmp-"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustLoad(t, s); !reflect.DeepEqual(got, st) {
		t.Fatalf("Load next to a stale temp file returned %+v", got)
	}

	next := st
	next.NextCommandID++
	mustSave(t, s, next)
	if got := mustLoad(t, s); !reflect.DeepEqual(got, next) {
		t.Fatalf("Load after Save returned %+v", got)
	}
	want := append(slices.Clone(others), "state.json")
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v (the stale temp file removed, nothing else)", got, want)
	}
}

// TestFileStoreSaveIsAtomic saves two States of different sizes in turn
// while readers load: every Load must see one of them whole.
func TestFileStoreSaveIsAtomic(t *testing.T) {
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	small := storeMachine(t).State()
	small.Groups = small.Groups[:1]
	large := storeMachine(t).State()
	mustSave(t, s, small)

	const saves = 100
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for loads := 0; ; loads++ {
				select {
				case <-done:
					return
				default:
				}
				got, err := s.Load(context.Background())
				if err != nil {
					t.Errorf("Load during Saves (load %d): %v", loads, err)
					return
				}
				if !reflect.DeepEqual(got, small) && !reflect.DeepEqual(got, large) {
					t.Errorf("Load during Saves returned a State never saved: %+v", got)
					return
				}
			}
		})
	}
	for i := range saves {
		mustSave(t, s, [2]failover.State{large, small}[i%2])
	}
	close(done)
	wg.Wait()
	if got := mustLoad(t, s); !reflect.DeepEqual(got, small) {
		t.Errorf("last Save was lost: %+v", got)
	}
	if got := dirNames(t, filepath.Dir(s.Path())); !slices.Equal(got, []string{"state.json"}) {
		t.Errorf("directory holds %v after Saves", got)
	}
}

// TestFileStoreConcurrentSaves saves from many goroutines; run it with
// -race. The file must end whole and equal to one of the States saved.
func TestFileStoreConcurrentSaves(t *testing.T) {
	s := failover.NewFileStore(filepath.Join(t.TempDir(), "state.json"))
	base := storeMachine(t).State()
	const writers, rounds = 8, 10
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range rounds {
				st := base
				st.NextCommandID = uint64(i*rounds + j + 1)
				if err := s.Save(context.Background(), st); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := mustLoad(t, s)
	if got.NextCommandID == 0 || got.NextCommandID > writers*rounds {
		t.Fatalf("loaded a State never saved: NextCommandID %d", got.NextCommandID)
	}
	want := base
	want.NextCommandID = got.NextCommandID
	if !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v", got)
	}
	if names := dirNames(t, filepath.Dir(s.Path())); !slices.Equal(names, []string{"state.json"}) {
		t.Errorf("directory holds %v after Saves", names)
	}
}

func TestFileStoreCancelledSaveKeepsOldFile(t *testing.T) {
	s, st, data := savedFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	next := st
	next.Groups = next.Groups[:1]
	if err := s.Save(ctx, next); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled context: %v", err)
	}
	after, err := os.ReadFile(s.Path())
	if err != nil || !bytes.Equal(after, data) {
		t.Errorf("a cancelled Save changed the file (%v)", err)
	}
	if got := dirNames(t, filepath.Dir(s.Path())); !slices.Equal(got, []string{"state.json"}) {
		t.Errorf("directory holds %v after a cancelled Save", got)
	}
}

func TestFileStoreFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	s, _, _ := savedFile(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %v, want 0600", perm)
	}
}

// TestFileStoreDirectoryAtPath: a path that names a directory is a
// configuration error, reported as such by Load and Save, not a corrupt
// store and not a center that never saved; nothing is written.
func TestFileStoreDirectoryAtPath(t *testing.T) {
	dir := t.TempDir()
	s := failover.NewFileStore(dir)
	err := loadFails(t, s, failover.ErrStorePath)
	if errors.Is(err, failover.ErrCorruptStore) || errors.Is(err, failover.ErrNoState) ||
		!strings.Contains(err.Error(), "is a directory") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Load of a directory: %v", err)
	}
	err = s.Save(context.Background(), storeMachine(t).State())
	if !errors.Is(err, failover.ErrStorePath) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Save over a directory: %v, want ErrStorePath", err)
	}
	parent := filepath.Dir(dir)
	if got := dirNames(t, parent); !slices.Equal(got, []string{filepath.Base(dir)}) {
		t.Errorf("Save over a directory left %v in %s", got, parent)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("Save over a directory wrote %v into it", got)
	}
}

// TestFileStoreFileAsDirectory: a path through a file ("state.json/x") is
// a configuration error, not a missing volume.
func TestFileStoreFileAsDirectory(t *testing.T) {
	s0, _, _ := savedFile(t)
	s := failover.NewFileStore(filepath.Join(s0.Path(), "state.json"))
	err := loadFails(t, s, failover.ErrStorePath)
	if errors.Is(err, failover.ErrNoState) || errors.Is(err, failover.ErrCorruptStore) {
		t.Errorf("Load through a file: %v", err)
	}
	if err := s.Save(context.Background(), storeMachine(t).State()); !errors.Is(err, failover.ErrStorePath) {
		t.Errorf("Save through a file: %v, want ErrStorePath", err)
	}
	// The file in the way is untouched.
	mustLoad(t, s0)
}

// TestFileStorePermissionDenied: a file or directory the process may not
// use is neither corrupt nor a bad path; the error says what was refused.
func TestFileStorePermissionDenied(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	s, _, _ := savedFile(t)
	dir := filepath.Dir(s.Path())
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, fs.ErrPermission) || errors.Is(err, failover.ErrCorruptStore) ||
			errors.Is(err, failover.ErrStorePath) || errors.Is(err, failover.ErrNoState) || !strings.Contains(err.Error(), s.Path()) {
			t.Errorf("%s: %v, want a permission error naming the path", op, err)
		}
	}

	if err := os.Chmod(s.Path(), 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(context.Background())
	check("Load of an unreadable file", err)
	if err := os.Chmod(s.Path(), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	check("Save into a read-only directory", s.Save(context.Background(), storeMachine(t).State()))
	mustLoad(t, s)

	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(context.Background())
	check("Load from a directory that cannot be searched", err)
}

func TestFileStoreEmptyPath(t *testing.T) {
	s := failover.NewFileStore("")
	if err := s.Save(context.Background(), failover.State{}); !errors.Is(err, failover.ErrStorePath) {
		t.Errorf("Save with no path: %v, want ErrStorePath", err)
	}
	if _, err := s.Load(context.Background()); !errors.Is(err, failover.ErrStorePath) || errors.Is(err, failover.ErrNoState) {
		t.Errorf("Load with no path: %v, want ErrStorePath", err)
	}
}

func ExampleFileStore() {
	dir, err := os.MkdirTemp("", "nvrha-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	store := failover.NewFileStore(filepath.Join(dir, "state.json"))
	ctx := context.Background()
	if _, err := store.Load(ctx); errors.Is(err, failover.ErrNoState) {
		fmt.Println("no saved state: a new center")
	}

	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.AddGroup("Parking"); err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Save(ctx, m.State()); err != nil {
		fmt.Println(err)
		return
	}

	// After a restart:
	st, err := store.Load(ctx)
	if err != nil {
		fmt.Println(err) // ErrCorruptStore or ErrUnknownStoreFormat: never start empty
		return
	}
	restored, err := failover.RestoreMachine(failover.Config{}, st, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range restored.State().Groups {
		fmt.Println(g.ID, g.Name)
	}
	// Output:
	// no saved state: a new center
	// 1 Failover Group 1
	// 2 Parking
}
