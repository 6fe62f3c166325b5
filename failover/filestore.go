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
	"strings"
	"sync"
	"syscall"
)

// The FileStore's on-disk format.
const (
	// FileStoreFormat names the format in every file a FileStore writes.
	FileStoreFormat = "nvrha-state"
	// FileStoreVersion is the version of that format this build writes and
	// reads. It versions the envelope; the State inside carries its own
	// Version (StateVersion).
	FileStoreVersion = 1
	// MaxStateFileSize bounds the file a FileStore loads or saves, so that a
	// wrong or damaged path is an error rather than an unbounded allocation.
	// A center at every limit (16 groups of 64 servers) with a long ledger
	// stays far below it.
	MaxStateFileSize = 256 << 20
)

// FileStore is the embedded default Store: one file, replaced atomically.
//
// The file is one JSON object on one line, followed by a newline:
//
//	{"format":"nvrha-state","version":1,"sha256":"<hex>","state":{...}}
//
// "format" and "version" identify the envelope (FileStoreFormat,
// FileStoreVersion); "sha256" is the lowercase hex SHA-256 of the exact bytes
// of the "state" value as they appear in the file, and "state" is the State
// as encoding/json writes it. A file edited by hand therefore fails its
// checksum unless the checksum is recomputed.
//
// Save encodes the State, writes it to a new temporary file in the same
// directory (named "."+base+".tmp-<digits>", mode 0600), syncs and closes it,
// renames it over the target, and syncs the directory so that the rename
// itself survives a power cut. A reader, or a crash, sees either the old file
// or the new one, never a mix. Filesystems whose directories cannot be synced
// (the call fails with EINVAL or ENOTSUP, as on some network and FUSE
// filesystems) are accepted: there the rename is as durable as the
// filesystem makes it. Windows directories are not synced. Saves through one
// FileStore are serialised; a path must belong to a single FileStore (one
// process), since nothing coordinates two writers.
//
// Load reads only the target: temporary files left by a crash during Save
// are ignored, and the next successful Save removes them. Its errors:
//   - a missing file in an existing directory: ErrNoState;
//   - a missing directory: an error wrapping fs.ErrNotExist but not
//     ErrNoState, since it more likely means a volume that is not mounted
//     yet than a center that never saved;
//   - an empty path, a path that names a directory, a device, a pipe or a
//     socket, or one that goes through a file as if it were a directory:
//     ErrStorePath (Save returns it too, before it writes anything);
//   - an empty, truncated, oversized (MaxStateFileSize) or garbled file, a
//     checksum mismatch, or a State that does not decode: ErrCorruptStore;
//   - a JSON object of another format, or of another version of this one:
//     ErrUnknownStoreFormat;
//   - a file that cannot be opened or read (permissions, a device error):
//     that error, wrapped (errors.Is(err, fs.ErrPermission) holds for a
//     permission), with no sentinel, since the file may be intact.
//
// Errors name the path and wrap their cause.
type FileStore struct {
	path string
	mu   sync.Mutex // serialises Save
}

var _ Store = (*FileStore)(nil)

// NewFileStore returns a FileStore that keeps its State in the file at path.
// Nothing is touched until the first Load or Save; the directory must exist
// by the first Save.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path returns the path of the state file.
func (s *FileStore) Path() string { return s.path }

// envelope is the file's JSON object. State stays raw so that its checksum
// covers exactly the bytes on disk.
type envelope struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	SHA256  string          `json:"sha256"`
	State   json.RawMessage `json:"state"`
}

// Load returns the State in the file. See FileStore for its errors.
func (s *FileStore) Load(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	if s.path == "" {
		return State{}, errNoPath
	}
	data, err := s.read()
	if err != nil {
		return State{}, err
	}
	return s.decode(data)
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
func (s *FileStore) checkKind(fi fs.FileInfo) error {
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		return fmt.Errorf("%w: %s is a directory", ErrStorePath, s.path)
	default:
		return fmt.Errorf("%w: %s is not a regular file (%v)", ErrStorePath, s.path, mode.Type())
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

// decode checks the envelope and decodes the State inside.
func (s *FileStore) decode(data []byte) (State, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %w", ErrCorruptStore, s.path, fmt.Errorf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return State{}, corrupt("empty file")
	}
	if trimmed := bytes.TrimSpace(data); trimmed[0] != '{' {
		return State{}, corrupt("not a JSON object")
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return State{}, corrupt("envelope: %w", err)
	}
	if env.Format != FileStoreFormat || env.Version != FileStoreVersion {
		return State{}, fmt.Errorf("%w: %s holds format %q version %d; this build reads %q version %d",
			ErrUnknownStoreFormat, s.path, env.Format, env.Version, FileStoreFormat, FileStoreVersion)
	}
	want, err := hex.DecodeString(env.SHA256)
	if err != nil || len(want) != sha256.Size {
		return State{}, corrupt("malformed checksum %q", env.SHA256)
	}
	if got := sha256.Sum256(env.State); !bytes.Equal(got[:], want) {
		return State{}, corrupt("checksum mismatch: state hashes to %x, file says %x", got, want)
	}
	var st State
	if err := json.Unmarshal(env.State, &st); err != nil {
		return State{}, corrupt("state: %w", err)
	}
	return st, nil
}

// encodeStateFile returns the file's bytes for st.
func encodeStateFile(st State) ([]byte, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("failover: encode state: %w", err)
	}
	sum := sha256.Sum256(raw)
	// Written by hand rather than by json.Marshal of an envelope, so that the
	// state's bytes are exactly the hashed ones.
	var b bytes.Buffer
	b.Grow(len(raw) + 160)
	fmt.Fprintf(&b, `{"format":%q,"version":%d,"sha256":%q,"state":`, FileStoreFormat, FileStoreVersion, hex.EncodeToString(sum[:]))
	b.Write(raw)
	b.WriteString("}\n")
	if b.Len() > MaxStateFileSize {
		return nil, fmt.Errorf("failover: encode state: %d bytes, more than the %d a FileStore loads", b.Len(), MaxStateFileSize)
	}
	return b.Bytes(), nil
}

// Save replaces the file with st, atomically and durably. If ctx is done
// before the rename, nothing is replaced and ctx's error is returned. An
// error from the final directory sync is returned although the new file is
// already in place: it may not survive a crash, so the Save is not
// acknowledged, and saving again is harmless.
func (s *FileStore) Save(ctx context.Context, st State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.path == "" {
		return errNoPath
	}
	data, err := encodeStateFile(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	// A directory (or a pipe) at the path would only fail the rename, after
	// the work, under the platform's own words.
	if fi, err := os.Stat(s.path); err == nil {
		if err := s.checkKind(fi); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return s.statError("save state to "+s.path, err)
	}
	prefix := tempPrefix(base)
	tmp, err := os.CreateTemp(dir, prefix+"*")
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
		return fmt.Errorf("failover: save state to %s: write: %w", s.path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("failover: save state to %s: sync: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("failover: save state to %s: close: %w", s.path, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, s.path); err != nil {
		if errors.Is(err, syscall.EISDIR) {
			// A directory appeared at the path since it was looked at.
			return fmt.Errorf("%w: %s is a directory: %w", ErrStorePath, s.path, err)
		}
		return fmt.Errorf("failover: save state to %s: rename: %w", s.path, err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("failover: save state to %s: sync directory: %w", s.path, err)
	}
	removeStaleTemps(dir, prefix)
	return nil
}

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
