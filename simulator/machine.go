package simulator

import (
	"math/rand/v2"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Machine is what the simulated center needs of a failover.Machine: the
// Ready loop, the views the invariants read, and the admin operations the
// scenarios and the nemesis perform. *failover.Machine implements it; a test
// wraps one (CenterConfig.WrapMachine) to check that a broken Machine is
// caught.
type Machine interface {
	Tick(now time.Time)
	Step(now time.Time, r failover.Result) error
	HasReady() bool
	Ready() failover.Ready
	Advance(rd failover.Ready)

	Snapshot() failover.Snapshot
	State() failover.State
	Epoch(recording nvrha.ServerID) nvrha.Epoch
	Ledger(camera nvrha.CameraID) []failover.Interval
	HoldersAt(camera nvrha.CameraID, t time.Time) []failover.Interval

	AddGroup(name string) (failover.GroupID, error)
	DeleteGroup(id failover.GroupID, a failover.Approval) ([]failover.Takeover, error)
	SetProtection(id failover.GroupID, on bool) ([]failover.Takeover, error)
	AddRecordingServers(id failover.GroupID, servers ...nvrha.Facts) error
	AddStandbyServers(id failover.GroupID, servers ...nvrha.Facts) error
	RemoveRecordingServers(id failover.GroupID, servers ...nvrha.ServerID) error
	RemoveStandbyServers(id failover.GroupID, a failover.Approval, servers ...nvrha.ServerID) error
	SetServerEnabled(server nvrha.ServerID, enabled bool) ([]failover.Takeover, error)
	Failback(recording nvrha.ServerID) error
}

var _ Machine = (*failover.Machine)(nil)

// rngStream is the second PCG word: every world draws from
// rand.NewPCG(seed, rngStream).
const rngStream = 0x6e76726873696d31

// rng is the world's one random source.
type rng struct{ r *rand.Rand }

func newRNG(seed uint64) *rng { return &rng{r: rand.New(rand.NewPCG(seed, rngStream))} }

func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return r.r.IntN(n)
}

func (r *rng) chance(p float64) bool { return p > 0 && r.r.Float64() < p }

// between draws a duration uniformly in [lo, hi].
func (r *rng) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.r.Int64N(int64(hi-lo)+1))
}

// exp draws an exponential delay with the given mean.
func (r *rng) exp(mean time.Duration) time.Duration {
	return time.Duration(r.r.ExpFloat64() * float64(mean))
}
