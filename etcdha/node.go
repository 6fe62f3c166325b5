package etcdha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/nvrha/nvrha/failover"
)

// DefaultLeaseTTL is the lease of a center's election key unless
// Config.LeaseTTL says otherwise: a leader that dies is replaced about this
// long after.
const DefaultLeaseTTL = 5 * time.Second

// ErrInvalidConfig is wrapped by New's errors.
var ErrInvalidConfig = errors.New("etcdha: invalid config")

// Config configures a Node.
type Config struct {
	// Client reaches etcd. Required; the Node does not close it.
	Client *clientv3.Client
	// Name identifies this center to the others (the value of its
	// election key). Required.
	Name string
	// Store says where the State lives; centers that stand by for each
	// other share it.
	Store StoreConfig
	// LeaseTTL is the lease of the election key, in whole seconds, at
	// least 1 s (DefaultLeaseTTL). The leader renews it every fifth of it
	// and stops ordering once a fifth of it is all that may be left.
	LeaseTTL time.Duration
	// Controller configures the Controller the leader runs; Transport is
	// required. Store and Term are set by the Node for each term.
	Controller failover.ControllerConfig
	// Lead, if set, runs the center while this Node leads, with cc (the
	// Controller config with this term's Store and Term), until ctx ends;
	// center.New and Run, say. Nil runs failover.NewController and Run.
	Lead func(ctx context.Context, cc failover.ControllerConfig) error
	// Logger receives the Node's logs; nil discards them.
	Logger *slog.Logger
}

// Role is what a Node does now.
type Role int

// The roles of a Node.
const (
	RoleStarting Role = iota
	RoleFollower
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleLeader:
		return "leader"
	}
	return "starting"
}

// Status is a Node's role and, while it leads, its term.
type Status struct {
	Role  Role
	Term  uint64    // while leading
	Since time.Time // when the Node took this role
}

// Node is one of several centers that stand by for each other through
// etcd: it campaigns for leadership, runs the Controller while it leads and
// follows the State the leader saves while it does not. See the package
// documentation.
type Node struct {
	cfg    Config
	ttl    int64
	every  time.Duration
	margin time.Duration
	log    *slog.Logger
	mirror *mirror

	mu     sync.Mutex
	status Status
	lead   *Leadership
	roles  chan struct{} // closed and replaced at every change of status
}

// New checks cfg and returns a Node ready to Run.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Client == nil:
		return nil, fmt.Errorf("%w: Client is nil", ErrInvalidConfig)
	case cfg.Name == "":
		return nil, fmt.Errorf("%w: Name is empty", ErrInvalidConfig)
	case cfg.Controller.Transport == nil:
		return nil, fmt.Errorf("%w: Controller.Transport is nil", ErrInvalidConfig)
	case cfg.LeaseTTL < 0 || cfg.LeaseTTL%time.Second != 0:
		return nil, fmt.Errorf("%w: LeaseTTL %v is not a whole number of seconds", ErrInvalidConfig, cfg.LeaseTTL)
	}
	if err := cfg.Controller.Machine.WithDefaults().Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lead == nil {
		cfg.Lead = runController
	}
	cfg.Store = cfg.Store.withDefaults()
	n := &Node{
		cfg:    cfg,
		ttl:    int64(cfg.LeaseTTL / time.Second),
		every:  cfg.LeaseTTL / 5,
		margin: cfg.LeaseTTL / 5,
		log:    cfg.Logger.With("center", cfg.Name),
		roles:  make(chan struct{}),
	}
	n.mirror = newMirror(cfg.Client, cfg.Store, cfg.Controller.Machine, n.log)
	return n, nil
}

func runController(ctx context.Context, cc failover.ControllerConfig) error {
	ctl, err := failover.NewController(ctx, cc)
	if err != nil {
		return err
	}
	return ctl.Run(ctx)
}

// Status returns the Node's role now, and a channel closed when it changes.
func (n *Node) Status() (Status, <-chan struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.roles
}

// Leadership returns this Node's term while it leads, nil otherwise.
func (n *Node) Leadership() *Leadership {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lead
}

func (n *Node) setStatus(s Status, lead *Leadership) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s.Since = time.Now()
	n.status, n.lead = s, lead
	close(n.roles)
	n.roles = make(chan struct{})
}

// Warm returns the State the leader saved last, as this Node follows it,
// and a snapshot of the Machine restored from it: what a follower shows.
// ok is false until the Node has read a whole State.
func (n *Node) Warm() (st failover.State, snap failover.Snapshot, ok bool, err error) {
	n.mirror.mu.Lock()
	defer n.mirror.mu.Unlock()
	if n.mirror.warmErr != nil {
		return failover.State{}, failover.Snapshot{}, false, n.mirror.warmErr
	}
	if n.mirror.st == nil || n.mirror.warm == nil {
		return failover.State{}, failover.Snapshot{}, false, nil
	}
	return *n.mirror.st, n.mirror.warm.Snapshot(), true, nil
}

// WarmChanged returns a channel closed when the State Warm returns next
// differs from the one it returns now.
func (n *Node) WarmChanged() <-chan struct{} {
	n.mirror.mu.Lock()
	defer n.mirror.mu.Unlock()
	return n.mirror.warmCh
}

// Leader returns the name and term of the center that leads now, read from
// etcd; concurrency.ErrElectionNoLeader if none does.
func (n *Node) Leader(ctx context.Context) (name string, term uint64, err error) {
	resp, err := n.cfg.Client.Get(ctx, n.electionPrefix()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", 0, err
	}
	if len(resp.Kvs) == 0 {
		return "", 0, concurrency.ErrElectionNoLeader
	}
	return string(resp.Kvs[0].Value), uint64(resp.Kvs[0].CreateRevision), nil
}

func (n *Node) electionPrefix() string { return n.cfg.Store.Prefix + "leader" }

// Run campaigns, leads and follows until ctx ends, then gives up its
// leadership (so that another center need not wait for the lease) and
// returns nil.
func (n *Node) Run(ctx context.Context) error {
	mctx, stopMirror := context.WithCancel(ctx)
	mirrorDone := make(chan struct{})
	go func() {
		defer close(mirrorDone)
		n.mirror.run(mctx)
	}()
	defer func() {
		stopMirror()
		<-mirrorDone
	}()
	for ctx.Err() == nil {
		err := n.term(ctx)
		if ctx.Err() != nil {
			break
		}
		n.log.Warn("etcdha: campaigning again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(n.every):
		}
	}
	n.setStatus(Status{Role: RoleStarting}, nil)
	return nil
}

// term runs one lease: a campaign, and the leadership if it is won.
func (n *Node) term(ctx context.Context) error {
	cli := n.cfg.Client
	n.setStatus(Status{Role: RoleFollower}, nil)
	grant, err := cli.Grant(ctx, n.ttl)
	if err != nil {
		return fmt.Errorf("etcdha: grant a lease: %w", err)
	}
	// The session outlives ctx so that stopping can still resign and
	// revoke; it is closed below either way.
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	sess, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID), concurrency.WithContext(sctx))
	if err != nil {
		return fmt.Errorf("etcdha: session: %w", err)
	}
	defer func() {
		sess.Orphan()
		rctx, cancel := context.WithTimeout(sctx, time.Second)
		defer cancel()
		_, _ = cli.Revoke(rctx, grant.ID)
	}()
	// A campaign ends with the session: a follower whose lease expired
	// (cut from etcd) must not take the deletion of its own key for a win.
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	stopC := context.AfterFunc(sess.Ctx(), ccancel)
	defer stopC()
	el := concurrency.NewElection(sess, n.electionPrefix())
	n.log.Info("etcdha: following; campaigning for leadership")
	if err := el.Campaign(cctx, n.cfg.Name); err != nil {
		return fmt.Errorf("etcdha: campaign: %w", err)
	}
	lead, rev, err := n.confirm(ctx, el, grant.ID)
	if err != nil {
		n.resign(sctx, el)
		return err
	}
	return n.leadTerm(ctx, sctx, sess, el, lead, rev, grant.ID)
}

// confirm checks, once elected, that the election key is still this
// session's and the lease alive, and returns the Leadership with its first
// deadline and the revision etcd was at.
func (n *Node) confirm(ctx context.Context, el *concurrency.Election, id clientv3.LeaseID) (*Leadership, int64, error) {
	cli := n.cfg.Client
	t0 := time.Now()
	ka, err := cli.KeepAliveOnce(ctx, id)
	if err != nil {
		return nil, 0, fmt.Errorf("etcdha: elected, but the lease: %w", err)
	}
	resp, err := cli.Get(ctx, el.Key())
	if err != nil {
		return nil, 0, fmt.Errorf("etcdha: elected, but reading the election key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != el.Rev() || clientv3.LeaseID(resp.Kvs[0].Lease) != id {
		return nil, 0, fmt.Errorf("%w: elected, but the election key %q is gone", ErrLeaseLost, el.Key())
	}
	lead := newLeadership(el.Key(), el.Rev(), t0.Add(time.Duration(ka.TTL)*time.Second-n.margin))
	return lead, resp.Header.Revision, nil
}

// leadTerm runs the center for one term and hands over when it ends.
func (n *Node) leadTerm(ctx, sctx context.Context, sess *concurrency.Session, el *concurrency.Election, lead *Leadership, rev int64, id clientv3.LeaseID) error {
	kctx, stopKeeper := context.WithCancel(ctx)
	defer stopKeeper()
	go (&keeper{cli: n.cfg.Client, id: id, every: n.every, margin: n.margin, log: n.log}).run(kctx, lead)
	stopS := context.AfterFunc(sess.Ctx(), func() {
		lead.revoke(fmt.Errorf("%w: the session's keep-alive ended", ErrLeaseLost))
	})
	defer stopS()

	store := NewStore(n.cfg.Client, n.cfg.Store, lead)
	// The mirror holds what the previous leader saved once it is complete
	// up to the revision of the election: the new leader reads nothing.
	wctx, cancel := context.WithTimeout(ctx, n.every)
	err := n.mirror.catchUp(wctx, rev)
	cancel()
	if err == nil {
		kv, saving, _, _ := n.mirror.snapshot()
		store.prime(kv, saving)
	} else {
		n.log.Warn("etcdha: the state watch lags; reading the state", "err", err)
	}

	term, err := lead.Term()
	if err != nil {
		return err
	}
	n.log.Info("etcdha: elected; leading", "term", term)
	n.setStatus(Status{Role: RoleLeader, Term: term}, lead)
	cc := n.cfg.Controller
	cc.Store = store
	cc.Term = lead.Term
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	go func() {
		select {
		case <-lead.Done():
		case <-lctx.Done():
			return
		}
		// A Controller stops by itself within a tick of its term's end;
		// anything else Lead runs is stopped soon after.
		select {
		case <-time.After(n.every):
			lcancel()
		case <-lctx.Done():
		}
	}()
	runErr := n.cfg.Lead(lctx, cc)
	lead.revoke(ErrResigned)
	n.setStatus(Status{Role: RoleFollower}, nil)
	cause := lead.Err()
	n.resign(sctx, el)
	n.log.Info("etcdha: leadership ended", "term", term, "cause", cause, "err", runErr)
	if runErr != nil {
		return runErr
	}
	return cause
}

// resign deletes the election key if it can within a second, so that the
// next center need not wait for the lease to expire.
func (n *Node) resign(sctx context.Context, el *concurrency.Election) {
	rctx, cancel := context.WithTimeout(sctx, time.Second)
	defer cancel()
	if err := el.Resign(rctx); err != nil {
		n.log.Debug("etcdha: resign failed; the lease will expire", "err", err)
	}
}
