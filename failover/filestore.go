package failover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The FileStore's on-disk format.
const (
	// FileStoreFormat names the format of the snapshot a FileStore writes.
	FileStoreFormat = "nvrha-state"
	// FileStoreVersion is the version of the snapshot this build writes. It
	// versions the envelope; the State inside carries its own Version
	// (StateVersion). Version 1, the single file of earlier builds, is
	// read too.
	FileStoreVersion = 2
	// FileStoreLogFormat names the format of a FileStore's log, and
	// FileStoreLogVersion its version.
	FileStoreLogFormat  = "nvrha-state-log"
	FileStoreLogVersion = 1
	// MaxStateFileSize bounds the snapshot and the log a FileStore loads or
	// writes, and any one record, so that a wrong or damaged path is an
	// error rather than an unbounded allocation. A center at every limit
	// (16 groups of 64 servers) with a long ledger stays far below it.
	MaxStateFileSize = 256 << 20
	// DefaultLogLimit is the size past which a FileStore compacts its log
	// into a new snapshot, unless the snapshot is larger (SetLogLimit).
	DefaultLogLimit = 4 << 20
)

// FileStore is the embedded default Store, and a DeltaStore: a snapshot of
// the State, replaced atomically, and a log of the Changes applied since,
// appended to.
//
// # Files
//
// The snapshot is the file at Path. It is one JSON object on one line,
// followed by a newline:
//
//	{"format":"nvrha-state","version":2,"generation":7,"sha256":"<hex>","state":{...}}
//
// "format" and "version" identify the envelope (FileStoreFormat,
// FileStoreVersion). "generation" numbers the snapshot: each one a store
// writes has a higher one than the last, and the log names the generation
// it follows. "sha256" is the lowercase hex SHA-256 of the generation in
// decimal, a newline, and the exact bytes of the "state" value as they
// appear in the file; "state" is the State as encoding/json writes it. A
// file edited by hand therefore fails its checksum unless the checksum is
// recomputed. Version 1, the format of earlier builds (one file, no log),
// has no generation and its checksum covers the state alone; it is read as
// generation 0, and the first write replaces it with a version 2 snapshot,
// which an earlier build refuses (ErrUnknownStoreFormat) rather than read
// without the log.
//
// The log is the file at LogPath (Path with ".log" appended). It is a
// sequence of records, each a 4-byte big-endian length n (1 to
// MaxStateFileSize), a 4-byte big-endian CRC-32C (Castagnoli) of the n
// bytes of payload, a 4-byte big-endian CRC-32C of those first 8 bytes,
// and the payload. The first record is the log's header,
// {"format":"nvrha-state-log","version":1,"generation":7}, naming the
// snapshot it follows; each further record is one Changes as
// encoding/json writes it, never with Full.
//
// # Writing
//
// Apply checks the change set against the State the store holds (it keeps
// it in memory, a Replica), appends one record and syncs the log, so that
// it is durable when Apply returns. The first record after a snapshot
// creates the log, header included, in a new temporary file that is synced
// and renamed into place. Once the log grows past the larger of the log
// limit (DefaultLogLimit, SetLogLimit) and the snapshot, it is compacted:
// the State is written as a snapshot of the next generation, which
// replaces the old one as Save does, and the log is removed. Save writes
// such a snapshot of the State it is given, and removes the log; Apply of
// Changes with Full does the same. So at any moment of a crash the files
// hold the old snapshot and its whole log, or the new snapshot and a log of
// an older generation, which Load ignores: nothing acknowledged is lost.
// An Apply that fails leaves the store refusing changes
// (ErrStoreNeedsState) until a Save: whether its record landed is unknown.
//
// A snapshot is written to a new temporary file in the same directory
// (named "."+base+".tmp-<digits>", mode 0600; the log's "."+base+
// ".log.tmp-<digits>"), synced and closed, renamed over the target, and
// the directory is synced so that the rename itself survives a power cut.
// A reader, or a crash, sees either the old file or the new one, never a
// mix. Filesystems whose directories cannot be synced (the call fails with
// EINVAL or ENOTSUP, as on some network and FUSE filesystems) are
// accepted: there the rename is as durable as the filesystem makes it.
// Windows directories are not synced. Loads and writes through one
// FileStore are serialised; a path must belong to a single FileStore (one
// process), since nothing coordinates two writers.
//
// # Loading
//
// Load reads the snapshot and, when the log follows its generation,
// replays the log's records on it. Temporary files left by a crash are
// ignored, and the next successful snapshot removes them. A log of an
// older generation is left from a compaction a crash interrupted, and is
// ignored. The end of the log may be torn by a crash in the middle of an
// append: a last record cut short, or whose checksum fails where it holds
// a 512-byte sector of zeros (blocks the crash left unwritten), with no
// whole record after it, is ignored, and the next Apply writes over it.
// Its errors:
//   - a missing snapshot in an existing directory: ErrNoState;
//   - a missing directory: an error wrapping fs.ErrNotExist but not
//     ErrNoState, since it more likely means a volume that is not mounted
//     yet than a center that never saved;
//   - an empty path, a path that names a directory, a device, a pipe or a
//     socket, or one that goes through a file as if it were a directory:
//     ErrStorePath (Save and Apply return it too, before they write
//     anything);
//   - an empty, truncated, oversized (MaxStateFileSize) or garbled
//     snapshot, a checksum mismatch, a State that does not decode; a log
//     record that fails a checksum otherwise than a torn end, a record
//     that does not decode or whose Changes do not apply, a log of a
//     newer generation than the snapshot or without a snapshot:
//     ErrCorruptStore;
//   - a snapshot or log of another format, or of another version of this
//     one: ErrUnknownStoreFormat;
//   - a file that cannot be opened or read (permissions, a device error):
//     that error, wrapped (errors.Is(err, fs.ErrPermission) holds for a
//     permission), with no sentinel, since the file may be intact.
//
// Errors name the path and wrap their cause.
type FileStore struct {
	path     string
	logLimit int64
	mu       sync.Mutex // serialises Load, Save and Apply

	// What the files hold, known once loaded or written.
	loaded bool
	// rep is the State, for Apply; nil with repErr when the State loaded
	// is one a Replica refuses (changes then need a Save first).
	rep    *Replica
	repErr error
	// gen is the snapshot's generation; legacy is set for a version 1
	// snapshot; snapSize is its size.
	gen      uint64
	legacy   bool
	snapSize int64
	// logOK is set when the log holds this generation's header; logEnd is
	// where its last whole record ends, logSize its size.
	logOK           bool
	logEnd, logSize int64
	// broken is set when a write failed: changes are refused until a Save.
	broken bool
}

var _ DeltaStore = (*FileStore)(nil)

// NewFileStore returns a FileStore that keeps its State in the file at path
// and its log beside it. Nothing is touched until the first Load or Save;
// the directory must exist by the first Save.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// SetLogLimit sets the size past which the log is compacted into a new
// snapshot, unless the snapshot is larger; n <= 0 means DefaultLogLimit.
// Call it before the store is used.
func (s *FileStore) SetLogLimit(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logLimit = n
}

// Path returns the path of the snapshot.
func (s *FileStore) Path() string { return s.path }

// LogPath returns the path of the log.
func (s *FileStore) LogPath() string { return s.path + ".log" }

// envelope is the snapshot's JSON object. State stays raw so that its
// checksum covers exactly the bytes on disk.
type envelope struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	Generation uint64          `json:"generation"`
	SHA256     string          `json:"sha256"`
	State      json.RawMessage `json:"state"`
}

// Load returns the State in the files: the snapshot, with the log
// replayed on it. See FileStore for its errors.
func (s *FileStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	if s.path == "" {
		return State{}, errNoPath
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load()
	if err == nil {
		// Whoever loads starts from what the files hold.
		s.broken = false
	}
	return st, err
}

// load reads the files and makes what they hold the store's; s.mu is held.
func (s *FileStore) load() (State, error) {
	s.loaded, s.logOK = false, false
	data, err := s.read()
	if err != nil {
		if errors.Is(err, ErrNoState) {
			if _, lerr := os.Stat(s.LogPath()); lerr == nil {
				return State{}, fmt.Errorf("%w: %s holds a log but %s is missing", ErrCorruptStore, s.LogPath(), s.path)
			}
		}
		return State{}, err
	}
	st, gen, legacy, err := s.decode(data)
	if err != nil {
		return State{}, err
	}
	logData, err := s.readLog()
	if err != nil {
		return State{}, err
	}
	lg, err := s.scanLog(logData)
	if err != nil {
		return State{}, err
	}
	rep, repErr := NewReplica(st)
	switch {
	case lg.torn && lg.header == nil:
		// A header cut short holds nothing: as if there were no log.
	case lg.header == nil:
	case lg.header.Generation < gen || legacy:
		// Left by a compaction that a crash cut short: the snapshot
		// holds it all. (A version 1 snapshot never had a log.)
		if legacy && lg.header.Generation > 0 {
			return State{}, fmt.Errorf("%w: %s follows generation %d, but %s is a version 1 file", ErrCorruptStore, s.LogPath(), lg.header.Generation, s.path)
		}
	case lg.header.Generation > gen:
		return State{}, fmt.Errorf("%w: %s follows generation %d, newer than %s (%d)", ErrCorruptStore, s.LogPath(), lg.header.Generation, s.path, gen)
	default:
		if repErr != nil {
			return State{}, fmt.Errorf("%w: %s: the snapshot cannot take its log: %w", ErrCorruptStore, s.path, repErr)
		}
		for i, rec := range lg.records {
			var c Changes
			if err := json.Unmarshal(rec.data, &c); err != nil {
				return State{}, fmt.Errorf("%w: %s: record %d at offset %d: %w", ErrCorruptStore, s.LogPath(), i+1, rec.at, err)
			}
			if c.Full != nil {
				return State{}, fmt.Errorf("%w: %s: record %d at offset %d holds a whole State", ErrCorruptStore, s.LogPath(), i+1, rec.at)
			}
			if err := rep.Apply(c); err != nil {
				return State{}, fmt.Errorf("%w: %s: record %d at offset %d: %w", ErrCorruptStore, s.LogPath(), i+1, rec.at, err)
			}
		}
		st = rep.State()
		s.logOK, s.logEnd, s.logSize = true, lg.end, int64(len(logData))
	}
	if !s.logOK {
		// The next record starts a new log.
		s.logEnd, s.logSize = 0, 0
	}
	s.rep, s.repErr = rep, repErr
	s.gen, s.legacy, s.snapSize = gen, legacy, int64(len(data))
	s.loaded = true
	return st, nil
}

// errNoPath is the error of a FileStore made with an empty path.
var errNoPath = fmt.Errorf("%w: FileStore has no path", ErrStorePath)

// read returns the file's bytes, at most MaxStateFileSize of them.
func (s *FileStore) read() ([]byte, error) {
	// Looked at before it is opened: opening a named pipe would block until
	// something writes to it, and a directory opens fine on Unix only to
	// fail on the first read, under a message that names neither.
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Only a missing file in a directory that is there means "never
		// saved". A missing directory is more likely a volume that is not
		// mounted yet: starting empty then, and later saving over the real
		// file, would lose the center's configuration.
		dir := filepath.Dir(s.path)
		dfi, derr := os.Stat(dir)
		switch {
		case derr != nil:
			return nil, fmt.Errorf("failover: load state: directory of %s: %w", s.path, derr)
		case !dfi.IsDir():
			return nil, fmt.Errorf("%w: %s: %s is not a directory", ErrStorePath, s.path, dir)
		}
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoState, s.path)
	}
	if err != nil {
		return nil, s.statError("load state", err)
	}
	if err := s.checkKind(fi); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path)
	if err != nil {
		// Not corruption: the file may be fine and the process unable to
		// open it (permissions, a device error). Nothing is assumed.
		return nil, fmt.Errorf("failover: load state: %w", err)
	}
	defer f.Close()
	// Again on what was opened: the path may have been replaced since.
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("failover: load state: %w", err)
	}
	if err := s.checkKind(fi); err != nil {
		return nil, err
	}
	if fi.Size() > MaxStateFileSize {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than %d", ErrCorruptStore, s.path, fi.Size(), MaxStateFileSize)
	}
	// The limit holds even if the file grows while it is read.
	data, err := io.ReadAll(io.LimitReader(f, MaxStateFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("failover: load state: %w", err)
	}
	if len(data) > MaxStateFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorruptStore, s.path, MaxStateFileSize)
	}
	return data, nil
}

// checkKind returns ErrStorePath unless fi is a regular file: what sits at
// the path is not a state file at all, so it is not a corrupt one either.
func (s *FileStore) checkKind(fi fs.FileInfo) error { return s.checkKindOf(s.path, fi) }

// checkKindOf is checkKind for the file at path.
func (s *FileStore) checkKindOf(path string, fi fs.FileInfo) error {
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		return fmt.Errorf("%w: %s is a directory", ErrStorePath, path)
	default:
		return fmt.Errorf("%w: %s is not a regular file (%v)", ErrStorePath, path, mode.Type())
	}
}

// statError wraps an error of looking at the path: ErrStorePath when a
// parent of the path is a file, else the error as it is.
func (s *FileStore) statError(what string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s: a parent is not a directory: %w", ErrStorePath, s.path, err)
	}
	return fmt.Errorf("failover: %s: %w", what, err)
}

// decode checks the snapshot's envelope and decodes the State inside,
// returning its generation and whether it is a version 1 file.
func (s *FileStore) decode(data []byte) (State, uint64, bool, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %w", ErrCorruptStore, s.path, fmt.Errorf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return State{}, 0, false, corrupt("empty file")
	}
	if trimmed := bytes.TrimSpace(data); trimmed[0] != '{' {
		return State{}, 0, false, corrupt("not a JSON object")
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return State{}, 0, false, corrupt("envelope: %w", err)
	}
	legacy := env.Version == 1
	if env.Format != FileStoreFormat || env.Version != FileStoreVersion && !legacy {
		return State{}, 0, false, fmt.Errorf("%w: %s holds format %q version %d; this build reads %q versions 1 and %d",
			ErrUnknownStoreFormat, s.path, env.Format, env.Version, FileStoreFormat, FileStoreVersion)
	}
	if legacy && env.Generation != 0 {
		return State{}, 0, false, corrupt("a version 1 file with a generation")
	}
	want, err := hex.DecodeString(env.SHA256)
	if err != nil || len(want) != sha256.Size {
		return State{}, 0, false, corrupt("malformed checksum %q", env.SHA256)
	}
	if got := snapshotSum(env.Generation, env.State, legacy); !bytes.Equal(got[:], want) {
		return State{}, 0, false, corrupt("checksum mismatch: state hashes to %x, file says %x", got, want)
	}
	var st State
	if err := json.Unmarshal(env.State, &st); err != nil {
		return State{}, 0, false, corrupt("state: %w", err)
	}
	return st, env.Generation, legacy, nil
}

// snapshotSum is the checksum of a snapshot: of the generation and the
// state's bytes, or of the state's alone in a version 1 file.
func snapshotSum(gen uint64, raw []byte, legacy bool) [sha256.Size]byte {
	h := sha256.New()
	if !legacy {
		h.Write(strconv.AppendUint(nil, gen, 10))
		h.Write([]byte{'\n'})
	}
	h.Write(raw)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// encodeStateFile returns the snapshot's bytes for st at generation gen.
func encodeStateFile(st State, gen uint64) ([]byte, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("failover: encode state: %w", err)
	}
	sum := snapshotSum(gen, raw, false)
	// Written by hand rather than by json.Marshal of an envelope, so that the
	// state's bytes are exactly the hashed ones.
	var b bytes.Buffer
	b.Grow(len(raw) + 192)
	fmt.Fprintf(&b, `{"format":%q,"version":%d,"generation":%d,"sha256":%q,"state":`,
		FileStoreFormat, FileStoreVersion, gen, hex.EncodeToString(sum[:]))
	b.Write(raw)
	b.WriteString("}\n")
	if b.Len() > MaxStateFileSize {
		return nil, fmt.Errorf("failover: encode state: %d bytes, more than the %d a FileStore loads", b.Len(), MaxStateFileSize)
	}
	return b.Bytes(), nil
}

// Save replaces the snapshot with st, atomically and durably, and removes
// the log. If ctx is done before the rename, nothing is replaced and ctx's
// error is returned. An error from the final directory sync is returned
// although the new file is already in place: it may not survive a crash,
// so the Save is not acknowledged, and saving again is harmless.
func (s *FileStore) Save(ctx context.Context, st State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.path == "" {
		return errNoPath
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(ctx, st)
}

// snapshot writes st as the next generation's snapshot and removes the
// log; s.mu is held.
func (s *FileStore) snapshot(ctx context.Context, st State) error {
	gen := s.nextGeneration()
	data, err := encodeStateFile(st, gen)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// From here the files may change: until this write succeeds, changes
	// have nothing known to apply to.
	s.loaded, s.broken = false, true
	if err := s.replace(ctx, s.path, data); err != nil {
		return err
	}
	// The snapshot holds everything: the log, of an older generation now,
	// is ignored from here on, and removed.
	if err := os.Remove(s.LogPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failover: save state to %s: remove the log: %w", s.path, err)
	}
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	removeStaleTemps(dir, tempPrefix(base))
	removeStaleTemps(dir, tempPrefix(base+".log"))
	s.rep, s.repErr = NewReplica(st)
	s.gen, s.legacy, s.snapSize = gen, false, int64(len(data))
	s.logOK, s.logEnd, s.logSize = false, 0, 0
	s.loaded, s.broken = true, false
	return nil
}

// nextGeneration returns the generation of the next snapshot: above the
// snapshot's and the log's, as far as they can be read.
func (s *FileStore) nextGeneration() uint64 {
	if s.loaded {
		return s.gen + 1
	}
	var gen uint64
	if data, err := s.read(); err == nil {
		if _, g, _, err := s.decode(data); err == nil {
			gen = g
		}
	}
	if data, err := s.readLog(); err == nil {
		if lg, err := s.scanLog(data); err == nil && lg.header != nil {
			gen = max(gen, lg.header.Generation)
		}
	}
	return gen + 1
}

// replace replaces the file at path with data: a temporary file, synced,
// renamed over it, and the directory synced.
func (s *FileStore) replace(ctx context.Context, path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// A directory (or a pipe) at the path would only fail the rename, after
	// the work, under the platform's own words.
	if fi, err := os.Stat(path); err == nil {
		if err := s.checkKindOf(path, fi); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s.statError("save state to "+s.path, err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return s.statError("save state to "+s.path, err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("failover: save state to %s: write: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("failover: save state to %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failover: save state to %s: close: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fileStoreStep("rename " + filepath.Base(path))
	if err := os.Rename(tmpName, path); err != nil {
		if errors.Is(err, syscall.EISDIR) {
			// A directory appeared at the path since it was looked at.
			return fmt.Errorf("%w: %s is a directory: %w", ErrStorePath, path, err)
		}
		return fmt.Errorf("failover: save state to %s: rename: %w", path, err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("failover: save state to %s: sync directory: %w", path, err)
	}
	fileStoreStep("renamed " + filepath.Base(path))
	return nil
}

// fileStoreStep is called at the steps of a write where a crash leaves
// the files in a new shape; tests look at them there.
var fileStoreStep = func(string) {}

// tempPrefix is the start of the name of every temporary file a Save of
// base creates; os.CreateTemp appends random digits.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeStaleTemps removes the temporary files earlier Saves left behind
// when they crashed. It is best effort: a leftover is harmless.
func removeStaleTemps(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		_ = os.Remove(filepath.Join(dir, name))
	}
}

// syncDir makes a rename in dir durable. Filesystems that cannot sync a
// directory report EINVAL or ENOTSUP; they are accepted.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Directories cannot be opened for syncing there; MoveFileEx's
		// rename is what the platform offers.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}
