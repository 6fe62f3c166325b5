package detector

import "time"

// ConsecutiveMiss is the simple failure detector: a server is failed when its
// last Misses probes all missed and more than AcceptablePause has passed since
// its last success (or since the first observation if it never answered).
//
// Build one with [NewConsecutiveMiss] or [New]; the zero value is not usable.
// A ConsecutiveMiss is not safe for concurrent use.
type ConsecutiveMiss struct {
	last         time.Time // latest success; the first observation until there is one
	lastObserved time.Time // latest observation time seen (never moves backwards)
	pause        time.Duration
	need         int // Config.Misses
	misses       int // consecutive misses, saturating at need
	state        uint8
}

// NewConsecutiveMiss returns a consecutive-miss detector configured by
// c.WithDefaults(). c.Kind is validated but otherwise ignored. It returns an
// error wrapping [ErrInvalidConfig] if the configuration is invalid.
func NewConsecutiveMiss(c Config) (*ConsecutiveMiss, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newConsecutiveMiss(c), nil
}

func newConsecutiveMiss(c Config) *ConsecutiveMiss {
	return &ConsecutiveMiss{pause: c.AcceptablePause, need: c.Misses}
}

// Reset forgets all history: the next Observe starts afresh.
func (d *ConsecutiveMiss) Reset() {
	d.last, d.lastObserved = time.Time{}, time.Time{}
	d.misses = 0
	d.state = stateEmpty
}

// Observe records a probe outcome at now. An observation earlier than a
// previous one is taken as happening at the latest observation time.
func (d *ConsecutiveMiss) Observe(now time.Time, ok bool) {
	if d.state == stateEmpty {
		d.last, d.lastObserved = now, now
		d.state = stateNoAnswer
		d.misses = 1
		if ok {
			d.state = stateAnswered
			d.misses = 0
		}
		return
	}
	if now.Before(d.lastObserved) {
		now = d.lastObserved
	}
	d.lastObserved = now
	if ok {
		d.state = stateAnswered
		d.last = now
		d.misses = 0
		return
	}
	if d.misses < d.need {
		d.misses++
	}
}

// CalmUntil returns a time up to which Failed is false, until the next
// Observe or Reset, as [PhiAccrual.CalmUntil] does: the latest success (or
// first observation) plus the acceptable pause.
func (d *ConsecutiveMiss) CalmUntil() (t time.Time, ok bool) {
	if d.state == stateEmpty {
		return time.Time{}, false
	}
	return d.last.Add(d.pause), true
}

// Failed reports whether the server is considered failed at now: the last
// Misses observations were all misses and more than AcceptablePause has
// passed since the last success (or the first observation).
func (d *ConsecutiveMiss) Failed(now time.Time) bool {
	return d.state != stateEmpty && d.misses >= d.need && elapsed(now, d.last) > d.pause
}
