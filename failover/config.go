package failover

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover/detector"
)

// Limits from QVR Center's failover management.
const (
	// MaxGroups is how many Failover Groups a center holds, the default one included.
	MaxGroups = 16
	// MaxGroupNameLength bounds a group name, in characters.
	MaxGroupNameLength = 64
	// DefaultGroupName is the name of the group every center starts with.
	DefaultGroupName = "Failover Group 1"
	// DefaultGroupID is the ID of that group. It can be renamed, never deleted.
	DefaultGroupID GroupID = 1
)

// Defaults of Config. They are tuned for a LAN: a crashed server is declared
// failed about 1.4 s after its last answer (the detector's acceptable pause
// of 1 s, a probe interval and the phi accrual margin), and a standby is
// ordered to take over in the same step. Orders are sent again after 400 ms
// without an answer; docs/performance.md gives the figures these defaults
// reach.
const (
	DefaultProbeTimeout      = 400 * time.Millisecond
	DefaultCommandTimeout    = 400 * time.Millisecond
	DefaultRetryBase         = 50 * time.Millisecond
	DefaultRetryMax          = 2 * time.Second
	DefaultTakeoverAttempts  = 6
	DefaultTakeoverTimeout   = 4 * time.Second
	DefaultInventoryInterval = 30 * time.Second
	DefaultHoldDown          = 30 * time.Second
	DefaultMaxHoldDown       = 10 * time.Minute
	DefaultFlapWindow        = 10 * time.Minute
	DefaultLedgerLimit       = 1024
	// A standby that fails a takeover while it answers is ordered again
	// after 1 minute, then 2, 4, ... up to 16: with 6 attempts a try, it
	// never gets more than 6 takeover orders in a minute.
	DefaultFailedStandbyBackoff    = time.Minute
	DefaultFailedStandbyMaxBackoff = 16 * time.Minute
)

// Config configures a Machine. Zero fields take the documented defaults, so
// the zero value is a valid x86_64 center with QVR Center's eligibility rules.
type Config struct {
	// Platform is the center's CPU platform; it sets the servers per group
	// (64 on x86_64, 8 on ARM64).
	Platform nvrha.Platform
	// Rules are the eligibility rules; the zero value is QVR Center's.
	Rules eligibility.Rules
	// Detector configures failure detection (probe interval, acceptable
	// pause, phi accrual or consecutive misses).
	Detector detector.Config
	// ProbeTimeout is how long a probe may take before it counts as missed.
	ProbeTimeout time.Duration
	// CommandTimeout is how long a takeover, release, stand-down or resume
	// may take before it is sent again. Orders are idempotent under their
	// epoch, and a late answer to the attempt before still counts, so a
	// short timeout costs a duplicate message, never a working server.
	CommandTimeout time.Duration
	// RetryBase and RetryMax bound the exponential backoff between retries
	// of a failed command: a command that failed, or got no answer within
	// CommandTimeout, is sent again after RetryBase, then 2*RetryBase, ...
	// up to RetryMax. An order refused as stale is sent again under a newer
	// epoch at once the first time, then with the same back-off. A
	// Controller retries failed saves of the State with the same bounds.
	//
	// Within one attempt a Controller also makes a call whose outcome is
	// unknown (transport.ErrUnreachable) again, under the same epoch:
	// first RetryBase/2 later, then doubling up to CommandTimeout/4, until
	// the attempt's CommandTimeout ends. These in-call retries ride out a
	// dropped connection without costing one of TakeoverAttempts; probes
	// are never retried so, since a lost probe is what the detector
	// measures.
	RetryBase, RetryMax time.Duration
	// TakeoverAttempts is how many times a standby is ordered to take over
	// before it is given up as "Abnormal, protection failed" and the next
	// eligible standby is tried. Every order that fails counts: one
	// unanswered, refused (as stale too), or acknowledged and then denied
	// by the standby's probes. A standby that got TakeoverAttempts takeover
	// orders within FailedStandbyBackoff, for whichever takeovers, is given
	// up rather than ordered again after a failure.
	TakeoverAttempts int
	// TakeoverTimeout is the longest a standby may take to confirm a
	// takeover, whatever the attempts, before it is given up.
	TakeoverTimeout time.Duration
	// InventoryInterval is how often each server's facts are read again.
	InventoryInterval time.Duration
	// Failback says when cameras go back to a recovered recording server.
	Failback FailbackPolicy
	// LedgerLimit is how many intervals the ledger keeps per camera; the
	// oldest are dropped first.
	LedgerLimit int
	// FailedStandbyBackoff and FailedStandbyMaxBackoff bound the back-off
	// of a standby that failed a takeover while it answered probes: it is
	// not ordered again for FailedStandbyBackoff, doubled for each further
	// failure in a row, up to FailedStandbyMaxBackoff.
	FailedStandbyBackoff, FailedStandbyMaxBackoff time.Duration
	// ApprovalTTL is how long an Approval from VerifyFirstAdmin stays
	// valid on the Machine's clock (default DefaultApprovalTTL, 1 minute).
	ApprovalTTL time.Duration
	// Assignment chooses standbys for failed servers: AssignOptimal (the
	// default) or AssignFirstFit, the naive baseline kept for comparisons.
	Assignment Assignment
}

// Assignment is how standbys are chosen when recording servers fail.
type Assignment uint8

// The assignments.
const (
	// AssignOptimal covers the most servers, then the most channels, then
	// uses the smallest standbys that fit (package assign).
	AssignOptimal Assignment = iota
	// AssignFirstFit gives each failed server, in group order, the first
	// free standby in group order that fits.
	AssignFirstFit
)

// FailbackMode says when a failback starts.
type FailbackMode uint8

// The failback modes.
const (
	// FailbackAutomatic fails back once the recording server has been
	// healthy for the hold-down period.
	FailbackAutomatic FailbackMode = iota
	// FailbackManual fails back only when Machine.Failback is called.
	FailbackManual
	// FailbackScheduled fails back after the hold-down, but only inside the
	// daily Window (for sites that move cameras at night).
	FailbackScheduled
)

// String returns "automatic", "manual" or "scheduled".
func (f FailbackMode) String() string {
	switch f {
	case FailbackAutomatic:
		return "automatic"
	case FailbackManual:
		return "manual"
	case FailbackScheduled:
		return "scheduled"
	}
	return fmt.Sprintf("FailbackMode(%d)", uint8(f))
}

// FailbackPolicy says when cameras go back to a recovered recording server.
type FailbackPolicy struct {
	Mode FailbackMode
	// HoldDown is how long a recording server must stay healthy before its
	// cameras go back (default 30 s). A probe it answers abnormal starts
	// the hold-down again, and gives up a failback under way: the standby
	// keeps the cameras.
	HoldDown time.Duration
	// FlapWindow and MaxHoldDown damp a server that flaps: each earlier
	// outage of the same server within FlapWindow doubles its hold-down, up
	// to MaxHoldDown, so cameras do not ping-pong. Outages are counted, not
	// takeovers: trying a second standby in one outage is no flap.
	FlapWindow  time.Duration
	MaxHoldDown time.Duration
	// Window is the daily window of FailbackScheduled.
	Window DailyWindow
	// NoReclaim keeps a standby with a recovered server until its failback
	// is due, even while another failed server of the group has no
	// standby. By default such a standby is reclaimed: the recovered server
	// fails back at once, make-before-break, whatever the mode, and the
	// standby goes to the server that waits.
	NoReclaim bool
}

// DailyWindow is a time-of-day range, [Start, End) after midnight in
// Location (UTC when nil). End before Start wraps past midnight.
type DailyWindow struct {
	Start, End time.Duration
	Location   *time.Location
}

// Contains reports whether t falls in the window.
func (w DailyWindow) Contains(t time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	h, m, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	if w.Start <= w.End {
		return tod >= w.Start && tod < w.End
	}
	return tod >= w.Start || tod < w.End
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Detector = c.Detector.WithDefaults()
	setDefault(&c.ProbeTimeout, DefaultProbeTimeout)
	setDefault(&c.CommandTimeout, DefaultCommandTimeout)
	setDefault(&c.RetryBase, DefaultRetryBase)
	setDefault(&c.RetryMax, DefaultRetryMax)
	setDefault(&c.TakeoverTimeout, DefaultTakeoverTimeout)
	setDefault(&c.InventoryInterval, DefaultInventoryInterval)
	setDefault(&c.Failback.HoldDown, DefaultHoldDown)
	setDefault(&c.Failback.MaxHoldDown, DefaultMaxHoldDown)
	setDefault(&c.Failback.FlapWindow, DefaultFlapWindow)
	setDefault(&c.ApprovalTTL, DefaultApprovalTTL)
	setDefault(&c.FailedStandbyBackoff, DefaultFailedStandbyBackoff)
	setDefault(&c.FailedStandbyMaxBackoff, DefaultFailedStandbyMaxBackoff)
	if c.TakeoverAttempts == 0 {
		c.TakeoverAttempts = DefaultTakeoverAttempts
	}
	if c.LedgerLimit == 0 {
		c.LedgerLimit = DefaultLedgerLimit
	}
	return c
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Validate reports a configuration the Machine cannot run with; errors wrap
// ErrInvalidConfig. It judges c as given; NewMachine applies WithDefaults
// first.
func (c Config) Validate() error {
	if !c.Platform.Valid() {
		return fmt.Errorf("%w: unknown platform %v", ErrInvalidConfig, c.Platform)
	}
	for _, p := range c.Rules.SupportedProducts {
		if p == "" {
			return fmt.Errorf("%w: empty product in SupportedProducts", ErrInvalidConfig)
		}
	}
	if err := c.Detector.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"ProbeTimeout", c.ProbeTimeout}, {"CommandTimeout", c.CommandTimeout},
		{"RetryBase", c.RetryBase}, {"RetryMax", c.RetryMax}, {"TakeoverTimeout", c.TakeoverTimeout},
		{"InventoryInterval", c.InventoryInterval}, {"Failback.HoldDown", c.Failback.HoldDown},
		{"Failback.MaxHoldDown", c.Failback.MaxHoldDown}, {"Failback.FlapWindow", c.Failback.FlapWindow},
		{"ApprovalTTL", c.ApprovalTTL}, {"FailedStandbyBackoff", c.FailedStandbyBackoff},
		{"FailedStandbyMaxBackoff", c.FailedStandbyMaxBackoff},
	} {
		if d.d < 0 {
			return fmt.Errorf("%w: %s is negative", ErrInvalidConfig, d.name)
		}
	}
	switch {
	case c.RetryMax < c.RetryBase:
		return fmt.Errorf("%w: RetryMax %v below RetryBase %v", ErrInvalidConfig, c.RetryMax, c.RetryBase)
	case c.TakeoverAttempts < 0:
		return fmt.Errorf("%w: TakeoverAttempts is negative", ErrInvalidConfig)
	case c.LedgerLimit < 0:
		return fmt.Errorf("%w: LedgerLimit is negative", ErrInvalidConfig)
	case c.Assignment > AssignFirstFit:
		return fmt.Errorf("%w: unknown assignment %d", ErrInvalidConfig, c.Assignment)
	case c.Failback.Mode > FailbackScheduled:
		return fmt.Errorf("%w: unknown failback mode %v", ErrInvalidConfig, c.Failback.Mode)
	case c.FailedStandbyMaxBackoff < c.FailedStandbyBackoff:
		return fmt.Errorf("%w: FailedStandbyMaxBackoff below FailedStandbyBackoff", ErrInvalidConfig)
	case c.Failback.MaxHoldDown < c.Failback.HoldDown:
		return fmt.Errorf("%w: Failback.MaxHoldDown below Failback.HoldDown", ErrInvalidConfig)
	case c.Failback.Window.Start < 0 || c.Failback.Window.Start >= 24*time.Hour ||
		c.Failback.Window.End < 0 || c.Failback.Window.End > 24*time.Hour:
		return fmt.Errorf("%w: Failback.Window outside 0..24h", ErrInvalidConfig)
	}
	return nil
}
