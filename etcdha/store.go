package etcdha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha/failover"
)

// Defaults of StoreConfig.
const (
	// DefaultPrefix is where a Store keeps its keys unless told otherwise.
	DefaultPrefix = "/nvrha/"
	// DefaultMaxTxnOps is etcd's own default --max-txn-ops: the most
	// operations a Store puts in one transaction.
	DefaultMaxTxnOps = 128
	// DefaultMaxTxnBytes bounds the values a Store puts in one
	// transaction, below etcd's default --max-request-bytes (1.5 MiB).
	DefaultMaxTxnBytes = 1 << 20
	// DefaultRequestTimeout bounds each etcd request of a Store.
	DefaultRequestTimeout = time.Second
)

// ErrNotLeader is wrapped by the error of a Save refused because this
// center does not lead (any more): its leadership was revoked, or the
// election key it was elected with is gone. It wraps failover.ErrTermRevoked
// too, so a failover.Controller stops at once rather than retry.
var ErrNotLeader = fmt.Errorf("etcdha: not the leader: %w", failover.ErrTermRevoked)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Prefix starts every key; DefaultPrefix if empty. Centers that share
	// a State share a prefix; a prefix must not be a prefix of another's.
	Prefix string
	// MaxTxnOps and MaxTxnBytes bound one transaction (DefaultMaxTxnOps,
	// DefaultMaxTxnBytes). Raise MaxTxnOps with etcd's --max-txn-ops.
	MaxTxnOps, MaxTxnBytes int
	// RequestTimeout bounds each request a Store makes to etcd
	// (DefaultRequestTimeout), within the caller's context. A write that
	// Raft's lost leader was to commit is otherwise held for etcd's own
	// request timeout (5 s) while the center's orders wait for it; cut
	// short, it fails, and the Controller saves again, with back-off, once
	// the members left have elected a leader. Whether it landed is unknown
	// either way, so the next save reads what etcd holds first.
	RequestTimeout time.Duration
}

func (c StoreConfig) withDefaults() StoreConfig {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxTxnOps <= 2 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if c.MaxTxnBytes <= 0 {
		c.MaxTxnBytes = DefaultMaxTxnBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// Store is a failover.DeltaStore in etcd, shared by the centers of one
// deployment. The State is kept one key per part (see the package
// documentation); Save writes only the keys whose value differs from what
// the Store last read or wrote, Apply only the keys its Changes name, each
// transaction guarded by the leadership the Store was made with: a center
// deposed since cannot write.
//
// A Save that fits one transaction (MaxTxnOps, MaxTxnBytes) is atomic. A
// larger one is written in several, the first of which creates a marker key
// and the last deletes it; while the marker exists (its writer died half
// way) Load returns the State as it was before the marker, read at that
// revision, so that a Load never returns a mix of two States. That read
// fails if etcd has compacted that revision away since: Load then returns an
// error wrapping failover.ErrCorruptStore, and an operator decides.
//
// Safe for concurrent use; Saves are serialised.
type Store struct {
	cli  *clientv3.Client
	cfg  StoreConfig
	lead *Leadership // nil: writes are not guarded

	mu sync.Mutex
	// known is what etcd holds under the state's directory, keyed
	// relative to it, as this Store last read or wrote it; nil when
	// unknown (never read, or a write whose outcome is unknown).
	known map[string][]byte
	// saving is whether the marker of an unfinished save exists.
	saving bool
	// primed is set when known was handed over by a follower's mirror,
	// complete up to a revision no older than this Store's leadership:
	// the next Load decodes it without reading etcd.
	primed bool
	// rep is the State known holds, for Apply; nil until one is needed,
	// and whenever known is.
	rep *failover.Replica
}

var _ failover.DeltaStore = (*Store)(nil)

// NewStore returns a Store over cli whose writes are guarded by lead: each
// succeeds only while lead's election key exists with the revision it was
// elected at, and none is attempted once lead is revoked. A nil lead makes
// writes unguarded, for a single center that keeps its State in etcd.
func NewStore(cli *clientv3.Client, cfg StoreConfig, lead *Leadership) *Store {
	return &Store{cli: cli, cfg: cfg.withDefaults(), lead: lead}
}

func (s *Store) stateDir() string  { return s.cfg.Prefix + "state/" }
func (s *Store) savingKey() string { return s.cfg.Prefix + keySaving }

// prime hands the Store what a mirror holds, complete up to a revision no
// older than this Store's leadership: the next Load decodes it rather than
// read etcd, and Save diffs against it.
func (s *Store) prime(known map[string][]byte, saving bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known, s.saving, s.primed, s.rep = known, saving, true, nil
}

// Load returns the State in etcd; see Store.
func (s *Store) Load(ctx context.Context) (failover.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var savingRev int64
	// A mirror that saw the marker of an unfinished save does not know its
	// revision (rare): read etcd then.
	primed := s.primed && !s.saving && s.known != nil
	s.primed = false
	if !primed {
		known, saving, err := s.read(ctx)
		if err != nil {
			return failover.State{}, err
		}
		s.known, s.saving = known, saving != nil
		if saving != nil {
			savingRev = saving.CreateRevision
		}
	}
	s.rep = nil
	if len(s.known) == 0 && !s.saving {
		return failover.State{}, fmt.Errorf("%w (etcd prefix %q)", failover.ErrNoState, s.cfg.Prefix)
	}
	if s.saving {
		return s.readAt(ctx, savingRev-1)
	}
	return decodeState(s.known)
}

// read returns the state's keys and the marker, if any, at one revision.
func (s *Store) read(ctx context.Context) (map[string][]byte, *mvccpb.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(
		clientv3.OpGet(s.stateDir(), clientv3.WithPrefix()),
		clientv3.OpGet(s.savingKey()),
	).Commit()
	if err != nil {
		return nil, nil, fmt.Errorf("etcdha: load state: %w", err)
	}
	known := map[string][]byte{}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		known[strings.TrimPrefix(string(kv.Key), s.stateDir())] = kv.Value
	}
	var saving *mvccpb.KeyValue
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		saving = kvs[0]
	}
	return known, saving, nil
}

// readAt decodes the State as it was at revision rev.
func (s *Store) readAt(ctx context.Context, rev int64) (failover.State, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.stateDir(), clientv3.WithPrefix(), clientv3.WithRev(rev))
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return failover.State{}, fmt.Errorf("%w: a save was left unfinished and etcd has compacted revision %d, the last whole State, away: restore from a backup, or delete %q to accept the mix",
			failover.ErrCorruptStore, rev, s.savingKey())
	case err != nil:
		return failover.State{}, fmt.Errorf("etcdha: load state at revision %d: %w", rev, err)
	}
	kv := map[string][]byte{}
	for _, x := range resp.Kvs {
		kv[strings.TrimPrefix(string(x.Key), s.stateDir())] = x.Value
	}
	if len(kv) == 0 {
		return failover.State{}, fmt.Errorf("%w (etcd prefix %q, before an unfinished first save)", failover.ErrNoState, s.cfg.Prefix)
	}
	return decodeState(kv)
}

// Save writes the keys of st that changed; see Store.
func (s *Store) Save(ctx context.Context, st failover.State) error {
	vals, err := encodeState(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	guard, err := s.guard()
	if err != nil {
		return err
	}
	if s.known == nil {
		known, saving, err := s.read(ctx)
		if err != nil {
			return err
		}
		s.known, s.saving = known, saving != nil
	}
	s.rep = nil
	ops, sizes := s.diff(vals)
	if err := s.write(ctx, guard, ops, sizes, vals); err != nil {
		return err
	}
	// The State written, for the Changes that follow (none when a
	// Replica refuses it: they then wait for a Save).
	s.rep, _ = failover.NewReplica(st)
	return nil
}

// Apply writes the keys that c changes, as Save writes the keys that
// changed, without encoding the whole State: the Store keeps the State it
// last read or wrote (a failover.Replica), applies c to it, and encodes
// only the parts c names (the takeovers and the owed orders whole, when
// they changed, as their keys are positions; a camera's whole ledger).
// Changes with Full are saved with Save. A Store that does not know what
// etcd holds (a write whose outcome is unknown, an unfinished save) or
// whose State c does not fit returns an error wrapping
// failover.ErrStoreNeedsState: the Controller then saves the whole State.
func (s *Store) Apply(ctx context.Context, c failover.Changes) error {
	if c.Full != nil {
		return s.Save(ctx, *c.Full)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	guard, err := s.guard()
	if err != nil {
		return err
	}
	if s.known == nil || s.saving {
		return fmt.Errorf("%w: etcd prefix %q: what etcd holds is not known", failover.ErrStoreNeedsState, s.cfg.Prefix)
	}
	if s.rep == nil {
		st, err := decodeState(s.known)
		if err == nil {
			s.rep, err = failover.NewReplica(st)
		}
		if err != nil {
			return fmt.Errorf("%w: etcd prefix %q: %w", failover.ErrStoreNeedsState, s.cfg.Prefix, err)
		}
	}
	if err := s.rep.Apply(c); err != nil {
		return fmt.Errorf("%w: etcd prefix %q: %w", failover.ErrStoreNeedsState, s.cfg.Prefix, err)
	}
	// From here the Replica is ahead of etcd until the write succeeds.
	rep := s.rep
	s.rep = nil
	vals, err := encodeChanges(rep.View(), c, s.known)
	if err != nil {
		return err
	}
	ops, sizes := s.diffSome(vals)
	if err := s.write(ctx, guard, ops, sizes, vals); err != nil {
		return err
	}
	s.rep = rep
	return nil
}

// diffSome is diff for some keys only: a nil value deletes its key.
func (s *Store) diffSome(vals map[string][]byte) ([]clientv3.Op, []int) {
	var ops []clientv3.Op
	var sizes []int
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		old, ok := s.known[k]
		switch v := vals[k]; {
		case v == nil && ok:
			ops = append(ops, clientv3.OpDelete(s.stateDir()+k))
			sizes = append(sizes, len(s.stateDir())+len(k))
		case v == nil, ok && bytes.Equal(old, v):
		default:
			ops = append(ops, clientv3.OpPut(s.stateDir()+k, string(v)))
			sizes = append(sizes, len(s.stateDir())+len(k)+len(v))
		}
	}
	return ops, sizes
}

// write writes ops, in as many guarded transactions as their size takes,
// bracketed by the marker when there are several, and records in known
// what each wrote (the values of its puts are those of vals).
func (s *Store) write(ctx context.Context, guard []clientv3.Cmp, ops []clientv3.Op, sizes []int, vals map[string][]byte) error {
	if len(ops) == 0 && !s.saving {
		return nil
	}
	var err error
	batches := s.split(ops, sizes)
	for i, b := range batches {
		last := i == len(batches)-1
		if i == 0 && !last && !s.saving {
			b = append([]clientv3.Op{clientv3.OpPut(s.savingKey(), "")}, b...)
		}
		if last && (s.saving || len(batches) > 1) {
			b = append(b, clientv3.OpDelete(s.savingKey()))
		}
		// The leadership is checked again before every transaction: a
		// revoked term writes nothing more, even before etcd notices.
		if i > 0 {
			if guard, err = s.guard(); err != nil {
				return err
			}
		}
		tctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		resp, err := s.cli.Txn(tctx).If(guard...).Then(b...).Commit()
		cancel()
		if err != nil {
			// Applied or not: read everything again before the next save.
			s.known, s.rep = nil, nil
			return fmt.Errorf("etcdha: save state: %w", err)
		}
		if !resp.Succeeded {
			s.rep = nil
			return fmt.Errorf("%w: the election key %q of term %d is gone", ErrNotLeader, s.lead.key, s.lead.rev)
		}
		s.applied(b, vals)
	}
	return nil
}

// guard returns the comparison that makes a transaction this leader's, or
// ErrNotLeader.
func (s *Store) guard() ([]clientv3.Cmp, error) {
	if s.lead == nil {
		return nil, nil
	}
	if _, err := s.lead.Term(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.lead.key), "=", s.lead.rev)}, nil
}

// diff returns the operations that make etcd hold vals, in key order, and
// the bytes each puts.
func (s *Store) diff(vals map[string][]byte) ([]clientv3.Op, []int) {
	var ops []clientv3.Op
	var sizes []int
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if old, ok := s.known[k]; ok && bytes.Equal(old, vals[k]) {
			continue
		}
		ops = append(ops, clientv3.OpPut(s.stateDir()+k, string(vals[k])))
		sizes = append(sizes, len(s.stateDir())+len(k)+len(vals[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(s.known)) {
		if _, ok := vals[k]; !ok {
			ops = append(ops, clientv3.OpDelete(s.stateDir()+k))
			sizes = append(sizes, len(s.stateDir())+len(k))
		}
	}
	return ops, sizes
}

// split cuts ops into transactions of at most MaxTxnOps operations and
// MaxTxnBytes bytes, leaving room for the marker and the guard.
func (s *Store) split(ops []clientv3.Op, sizes []int) [][]clientv3.Op {
	maxOps := s.cfg.MaxTxnOps - 1
	var out [][]clientv3.Op
	start, bytes := 0, 0
	for i := range ops {
		if i > start && (i-start >= maxOps || bytes+sizes[i] > s.cfg.MaxTxnBytes) {
			out = append(out, ops[start:i:i])
			start, bytes = i, 0
		}
		bytes += sizes[i]
	}
	return append(out, ops[start:])
}

// applied records what a successful transaction wrote.
func (s *Store) applied(ops []clientv3.Op, vals map[string][]byte) {
	for _, op := range ops {
		key := string(op.KeyBytes())
		if key == s.savingKey() {
			s.saving = op.IsPut()
			continue
		}
		k := strings.TrimPrefix(key, s.stateDir())
		if op.IsDelete() {
			delete(s.known, k)
		} else {
			s.known[k] = vals[k]
		}
	}
}
