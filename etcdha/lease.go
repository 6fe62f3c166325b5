package etcdha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of a Leadership's revocation.
var (
	// ErrLeaseLost means the lease could not be renewed in time: this
	// center may be cut from etcd, and another may be elected once the
	// lease expires, so it stops ordering first.
	ErrLeaseLost = errors.New("etcdha: lease not renewed in time")
	// ErrResigned means this center gave up its leadership (it stops).
	ErrResigned = errors.New("etcdha: resigned")
)

// Leadership is one term of this center as the elected leader: the
// election key it holds and the revision that key was created at, which is
// the term. It is valid until it is revoked, which happens, for good, when
// the lease has not been renewed for long enough that it could expire soon
// (see Config.LeaseTTL), when etcd says the lease is gone, or when the
// center stops. Term is checked before every order and every write, so a
// revoked Leadership orders and writes nothing more.
type Leadership struct {
	key string
	rev int64

	mu       sync.Mutex
	deadline time.Time // on the monotonic clock: revoked from then on
	err      error
	done     chan struct{}
}

func newLeadership(key string, rev int64, deadline time.Time) *Leadership {
	return &Leadership{key: key, rev: rev, deadline: deadline, done: make(chan struct{})}
}

// Term returns the term, or the error that revoked it. It is what a
// failover.ControllerConfig.Term wants.
func (l *Leadership) Term() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !time.Now().Before(l.deadline) {
		l.revokeLocked(fmt.Errorf("%w by %s", ErrLeaseLost, l.deadline.Format(time.RFC3339Nano)))
	}
	if l.err != nil {
		return 0, l.err
	}
	return uint64(l.rev), nil
}

// Key returns the election key this center holds.
func (l *Leadership) Key() string { return l.key }

// Done is closed once the Leadership is revoked.
func (l *Leadership) Done() <-chan struct{} { return l.done }

// Err returns the error that revoked the Leadership, nil while it holds.
func (l *Leadership) Err() error {
	_, err := l.Term()
	return err
}

// extend moves the deadline later, never earlier, unless revoked.
func (l *Leadership) extend(deadline time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && deadline.After(l.deadline) {
		l.deadline = deadline
	}
}

func (l *Leadership) revoke(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revokeLocked(err)
}

func (l *Leadership) revokeLocked(err error) {
	if l.err == nil {
		l.err = err
		close(l.done)
	}
}

func (l *Leadership) deadlineNow() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// keeper renews a lease and knows until when it surely holds: a renewal
// sent at t0 that etcd acknowledges with a TTL of ttl keeps the lease until
// t0+ttl at least, as etcd counts from when it renews, which is after t0.
// It subtracts a margin for the orders already on their way.
type keeper struct {
	cli    *clientv3.Client
	id     clientv3.LeaseID
	every  time.Duration
	margin time.Duration
	log    *slog.Logger
}

// run renews the lease every k.every until ctx ends or l is revoked, and
// revokes l when a deadline passes without a renewal or etcd no longer
// knows the lease. Term notices a passed deadline by itself too, so a stuck
// renewal cannot keep a term alive; the timer here only closes Done on time.
func (k *keeper) run(ctx context.Context, l *Leadership) {
	deadline := time.NewTimer(time.Until(l.deadlineNow()))
	defer deadline.Stop()
	tick := time.NewTicker(k.every)
	defer tick.Stop()
	renewed := make(chan time.Time, 1)
	lost := make(chan error, 1)
	inFlight := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.Done():
			return
		case <-deadline.C:
			if d := time.Until(l.deadlineNow()); d > 0 {
				deadline.Reset(d)
				continue
			}
			l.Term() // revokes
			return
		case err := <-lost:
			l.revoke(err)
			return
		case t := <-renewed:
			inFlight = false
			l.extend(t)
			deadline.Reset(time.Until(l.deadlineNow()))
		case <-tick.C:
			if inFlight {
				continue
			}
			inFlight = true
			go func() {
				t0 := time.Now()
				rctx, cancel := context.WithDeadline(ctx, l.deadlineNow())
				defer cancel()
				resp, err := k.cli.KeepAliveOnce(rctx, k.id)
				switch {
				case err == nil:
					renewed <- t0.Add(time.Duration(resp.TTL)*time.Second - k.margin)
				case errors.Is(err, rpctypes.ErrLeaseNotFound):
					lost <- fmt.Errorf("%w: etcd no longer knows lease %x", ErrLeaseLost, int64(k.id))
				default:
					k.log.Warn("etcdha: lease renewal failed", "lease", fmt.Sprintf("%x", int64(k.id)), "err", err)
					renewed <- time.Time{} // no later than before
				}
			}()
		}
	}
}
