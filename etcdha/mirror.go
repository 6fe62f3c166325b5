package etcdha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha/failover"
)

// mirror follows the state's keys with a watch, so that a follower holds
// the State the leader saved, decoded and restored into a warm Machine,
// and its promotion needs no reading of the store.
type mirror struct {
	cli   *clientv3.Client
	store StoreConfig
	mcfg  failover.Config
	log   *slog.Logger

	mu      sync.Mutex
	changed *sync.Cond // broadcast whenever rev or the State changes
	kv      map[string][]byte
	saving  bool
	rev     int64 // the revision the mirror is complete up to
	st      *failover.State
	warm    *failover.Machine
	warmErr error
	wctx    context.Context // the watch's, for RequestProgress
	warmCh  chan struct{}   // closed and replaced when the State changes
}

func newMirror(cli *clientv3.Client, sc StoreConfig, mcfg failover.Config, log *slog.Logger) *mirror {
	m := &mirror{cli: cli, store: sc, mcfg: mcfg, log: log, warmCh: make(chan struct{})}
	m.changed = sync.NewCond(&m.mu)
	return m
}

func (m *mirror) stateDir() string { return m.store.Prefix + "state/" }

// run keeps the mirror until ctx ends, reading everything again whenever
// the watch breaks.
func (m *mirror) run(ctx context.Context) {
	defer func() {
		m.mu.Lock()
		m.changed.Broadcast()
		m.mu.Unlock()
	}()
	for ctx.Err() == nil {
		err := m.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("etcdha: watch of the state broke; reading it again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// follow reads the state's keys, then applies what the watch reports.
func (m *mirror) follow(ctx context.Context) error {
	resp, err := m.cli.Get(ctx, m.store.Prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	kv, saving := map[string][]byte{}, false
	for _, x := range resp.Kvs {
		m.put(kv, &saving, x)
	}
	m.mu.Lock()
	m.kv, m.saving = kv, saving
	m.mu.Unlock()
	m.settle(resp.Header.Revision)

	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	m.mu.Lock()
	m.wctx = wctx
	m.mu.Unlock()
	wch := m.cli.Watch(wctx, m.store.Prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithProgressNotify())
	for {
		var wr clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case wr, ok = <-wch:
		}
		if !ok {
			return errors.New("watch closed")
		}
		if err := wr.Err(); err != nil {
			return err
		}
		m.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				m.del(m.kv, &m.saving, string(ev.Kv.Key))
			} else {
				m.put(m.kv, &m.saving, ev.Kv)
			}
		}
		m.mu.Unlock()
		// Several responses may be waiting: decode once for all of them.
		if len(wch) == 0 {
			m.settle(wr.Header.Revision)
		} else {
			m.advance(wr.Header.Revision, false)
		}
	}
}

func (m *mirror) put(kv map[string][]byte, saving *bool, x *mvccpb.KeyValue) {
	k := string(x.Key)
	switch {
	case k == m.store.Prefix+keySaving:
		*saving = true
	case strings.HasPrefix(k, m.stateDir()):
		kv[strings.TrimPrefix(k, m.stateDir())] = x.Value
	}
}

func (m *mirror) del(kv map[string][]byte, saving *bool, k string) {
	switch {
	case k == m.store.Prefix+keySaving:
		*saving = false
	case strings.HasPrefix(k, m.stateDir()):
		delete(kv, strings.TrimPrefix(k, m.stateDir()))
	}
}

// settle records that the mirror is complete up to rev and, if it holds
// a whole State that changed, decodes it and restores the warm Machine.
func (m *mirror) settle(rev int64) { m.advance(rev, true) }

func (m *mirror) advance(rev int64, decode bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.changed.Broadcast()
	moved := rev > m.rev
	if moved {
		m.rev = rev
	}
	if !decode || m.saving || (m.st != nil && !moved) {
		return
	}
	if len(m.kv) == 0 {
		m.st, m.warm, m.warmErr = nil, nil, nil
		return
	}
	st, err := decodeState(m.kv)
	if err != nil {
		m.st, m.warm, m.warmErr = nil, nil, err
		m.log.Error("etcdha: the saved state does not decode", "err", err)
		return
	}
	// Restored now and again at promotion: this one proves the State
	// restores and shows what the leader does; the Controller's must
	// count its timers from the moment it leads.
	warm, err := failover.RestoreMachine(m.mcfg, st, time.Now())
	if err != nil {
		m.log.Error("etcdha: the saved state does not restore", "err", err)
	}
	m.st, m.warm, m.warmErr = &st, warm, err
	close(m.warmCh)
	m.warmCh = make(chan struct{})
}

// catchUp waits until the mirror is complete up to rev, asking etcd for a
// progress report if no event carries it there.
func (m *mirror) catchUp(ctx context.Context, rev int64) error {
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.changed.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	asked := false
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.rev < rev {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("etcdha: state watch not at revision %d (at %d): %w", rev, m.rev, err)
		}
		if !asked && m.wctx != nil {
			asked = true
			wctx := m.wctx
			m.mu.Unlock()
			err := m.cli.RequestProgress(wctx)
			m.mu.Lock()
			if err != nil {
				m.log.Debug("etcdha: progress request failed", "err", err)
			}
			continue
		}
		m.changed.Wait()
	}
	return nil
}

// snapshot returns a copy of what the mirror holds, for a Store to diff
// against, with the decoded State if the mirror holds a whole one.
func (m *mirror) snapshot() (kv map[string][]byte, saving bool, st *failover.State, rev int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kv = maps.Clone(m.kv)
	if kv == nil {
		kv = map[string][]byte{}
	}
	return kv, m.saving, m.st, m.rev
}
