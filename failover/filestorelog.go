package failover

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
)

// The log's framing: see FileStore.
const (
	recordHeader = 12  // length, CRC-32C of the payload, CRC-32C of those 8 bytes
	sectorSize   = 512 // the unit a torn write leaves unwritten
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logHeader is the log's first record.
type logHeader struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	Generation uint64 `json:"generation"`
}

// logRecord is one record of the log: its payload and offset.
type logRecord struct {
	at   int64
	data []byte
}

// logScan is what a log holds: its header (nil if there is none, or it is
// torn), its change records, where the last whole one ends, and whether
// the end is torn.
type logScan struct {
	header  *logHeader
	records []logRecord
	end     int64
	torn    bool
}

// frame returns payload as a record.
func frame(payload []byte) []byte {
	b := make([]byte, recordHeader, recordHeader+len(payload))
	binary.BigEndian.PutUint32(b[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(payload, castagnoli))
	binary.BigEndian.PutUint32(b[8:12], crc32.Checksum(b[0:8], castagnoli))
	return append(b, payload...)
}

// recordAt reads the record at the start of b: its payload, or why not.
// A header or payload cut short by the end of b is errCutShort.
func recordAt(b []byte) ([]byte, error) {
	if len(b) < recordHeader {
		return nil, errCutShort
	}
	if crc32.Checksum(b[0:8], castagnoli) != binary.BigEndian.Uint32(b[8:12]) {
		return nil, errBadHeader
	}
	n := int(binary.BigEndian.Uint32(b[0:4]))
	if n == 0 || n > MaxStateFileSize {
		return nil, fmt.Errorf("a record of %d bytes", n)
	}
	if len(b) < recordHeader+n {
		return nil, errCutShort
	}
	payload := b[recordHeader : recordHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:8]) {
		return payload, errBadPayload
	}
	return payload, nil
}

var (
	errCutShort   = errors.New("cut short")
	errBadHeader  = errors.New("record header checksum mismatch")
	errBadPayload = errors.New("record checksum mismatch")
)

// recordAfter reports whether a whole, valid record starts anywhere in b
// after its first byte: damage followed by records is not a torn end.
func recordAfter(b []byte) bool {
	for i := 1; i+recordHeader <= len(b); i++ {
		if _, err := recordAt(b[i:]); err == nil {
			return true
		}
	}
	return false
}

// readLog returns the log's bytes, nil if there is no log.
func (s *FileStore) readLog() ([]byte, error) {
	path := s.LogPath()
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, s.statError("load state", err)
	}
	if err := s.checkKindOf(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failover: load state: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxStateFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("failover: load state: %w", err)
	}
	if len(data) > MaxStateFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorruptStore, path, MaxStateFileSize)
	}
	return data, nil
}

// scanLog splits a log into its records. A torn end is reported, not an
// error; anything else that does not read is ErrCorruptStore, and a header
// of another format ErrUnknownStoreFormat.
func (s *FileStore) scanLog(data []byte) (logScan, error) {
	var lg logScan
	corrupt := func(at int, format string, args ...any) error {
		return fmt.Errorf("%w: %s: offset %d: %s", ErrCorruptStore, s.LogPath(), at, fmt.Sprintf(format, args...))
	}
	off := 0
	for off < len(data) {
		rest := data[off:]
		payload, err := recordAt(rest)
		// A crash in the middle of an append leaves the record cut short,
		// or holding sectors it never wrote (zeros), and nothing after it.
		switch {
		case errors.Is(err, errCutShort) && (len(rest) < recordHeader || !recordAfter(rest)):
			lg.torn = true
		case errors.Is(err, errBadHeader) && zeroSector(data, off, min(off+recordHeader, len(data))) && !recordAfter(rest):
			lg.torn = true
		case errors.Is(err, errBadPayload) && off+recordHeader+len(payload) == len(data) && zeroSector(data, off, len(data)):
			lg.torn = true
		case err != nil:
			return lg, corrupt(off, "%v", err)
		}
		if lg.torn {
			break
		}
		if lg.header == nil {
			var h logHeader
			if err := json.Unmarshal(payload, &h); err != nil {
				return lg, corrupt(off, "header: %v", err)
			}
			if h.Format != FileStoreLogFormat || h.Version != FileStoreLogVersion {
				return lg, fmt.Errorf("%w: %s holds format %q version %d; this build reads %q version %d",
					ErrUnknownStoreFormat, s.LogPath(), h.Format, h.Version, FileStoreLogFormat, FileStoreLogVersion)
			}
			lg.header = &h
		} else {
			lg.records = append(lg.records, logRecord{at: int64(off), data: payload})
		}
		off += recordHeader + len(payload)
	}
	lg.end = int64(off)
	return lg, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroSector reports whether data[from:to] holds a whole 512-byte sector
// of the file (or the part of one it ends in) that is all zeros: a write
// the crash cut short.
func zeroSector(data []byte, from, to int) bool {
	for start := from; start < to; {
		end := min((start/sectorSize+1)*sectorSize, to)
		if allZero(data[start:end]) {
			return true
		}
		start = end
	}
	return false
}

// Apply appends c to the log, durably, after checking that it applies to
// the State the store holds; Changes with Full are saved as Save saves.
// Changes that do not apply, and any Apply after one that failed, until a
// Save, return an error wrapping ErrStoreNeedsState; so does Apply before
// anything was saved. See FileStore.
func (s *FileStore) Apply(ctx context.Context, c Changes) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.path == "" {
		return errNoPath
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Full != nil {
		return s.snapshot(ctx, *c.Full)
	}
	switch {
	case s.broken:
		return fmt.Errorf("%w: %s: an earlier write failed", ErrStoreNeedsState, s.path)
	case !s.loaded:
		if _, err := s.load(); errors.Is(err, ErrNoState) {
			return fmt.Errorf("%w: %w", ErrStoreNeedsState, err)
		} else if err != nil {
			return err
		}
	}
	if s.rep == nil {
		return fmt.Errorf("%w: %s: %w", ErrStoreNeedsState, s.path, s.repErr)
	}
	p, err := s.rep.plan(&c)
	if err != nil {
		return fmt.Errorf("%w: %s: changes do not apply: %w", ErrStoreNeedsState, s.path, err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("failover: encode changes: %w", err)
	}
	if len(payload) > MaxStateFileSize {
		return fmt.Errorf("failover: encode changes: %d bytes, more than the %d a FileStore loads", len(payload), MaxStateFileSize)
	}
	if s.legacy {
		// A version 1 file is replaced by a snapshot first, which an
		// earlier build will not mistake for the whole State.
		s.rep.apply(&c, p)
		return s.snapshot(ctx, s.rep.State())
	}
	s.broken = true // until the record is known to be durable
	if err := s.append(ctx, frame(payload)); err != nil {
		return err
	}
	s.broken = false
	s.rep.apply(&c, p)
	if limit := cmpOr(s.logLimit, DefaultLogLimit); s.logEnd > max(limit, s.snapSize) {
		return s.snapshot(ctx, s.rep.State())
	}
	return nil
}

func cmpOr(n, def int64) int64 {
	if n > 0 {
		return n
	}
	return def
}

// append writes a record at the end of the log and syncs it. The first
// record after a snapshot creates the log, with its header, as a snapshot
// is written; the others go where the last whole record ends, over a torn
// end if there is one.
func (s *FileStore) append(ctx context.Context, rec []byte) error {
	path := s.LogPath()
	if !s.logOK {
		head, err := json.Marshal(logHeader{Format: FileStoreLogFormat, Version: FileStoreLogVersion, Generation: s.gen})
		if err != nil {
			return fmt.Errorf("failover: encode log header: %w", err)
		}
		data := append(frame(head), rec...)
		if err := s.replace(ctx, path, data); err != nil {
			return err
		}
		s.logOK, s.logEnd, s.logSize = true, int64(len(data)), int64(len(data))
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("failover: save state to %s: %w", path, err)
	}
	defer f.Close()
	if s.logSize != s.logEnd {
		// A torn end, or a write that failed: written over.
		if err := f.Truncate(s.logEnd); err != nil {
			return fmt.Errorf("failover: save state to %s: cut the torn end: %w", path, err)
		}
		s.logSize = s.logEnd
	}
	fileStoreStep("append")
	n, err := f.WriteAt(rec, s.logEnd)
	s.logSize = max(s.logSize, s.logEnd+int64(n))
	if err != nil {
		return fmt.Errorf("failover: save state to %s: write: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failover: save state to %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failover: save state to %s: close: %w", path, err)
	}
	s.logEnd += int64(len(rec))
	s.logSize = s.logEnd
	fileStoreStep("appended")
	return nil
}
