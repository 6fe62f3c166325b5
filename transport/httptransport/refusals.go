package httptransport

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// RefusalLogInterval is how often, at most, a handler logs the requests it
// refused before authenticating them, and a [ProbeListener] the datagrams it
// refused: one line per interval with the counts by code, never one per
// request, so that a flood of forged traffic cannot flood the log.
const RefusalLogInterval = 10 * time.Second

// refusalLog counts refusals of traffic that was not authenticated and logs
// them at most once per RefusalLogInterval: the first refusal after a quiet
// interval at once, then the counts of an interval's refusals with its last
// one as a sample. Safe for concurrent use.
type refusalLog struct {
	log   *slog.Logger
	now   func() time.Time
	every time.Duration
	msg   string

	mu      sync.Mutex
	pending map[string]int // code → refusals not logged yet
	level   slog.Level     // the highest level of those
	last    refusal        // the latest of those
	next    time.Time      // when a line may be written again
	total   map[string]uint64
}

// refusal is one refused request or datagram.
type refusal struct {
	level                 slog.Level
	code, message, remote string
	path                  string // for HTTP; empty for datagrams
}

func newRefusalLog(log *slog.Logger, now func() time.Time, msg string) *refusalLog {
	return &refusalLog{log: log, now: now, every: RefusalLogInterval, msg: msg, pending: map[string]int{}, total: map[string]uint64{}}
}

// add counts r, and logs what is pending if the interval has passed.
func (l *refusalLog) add(r refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total[r.code]++
	if len(l.pending) == 0 || r.level > l.level {
		l.level = r.level
	}
	l.pending[r.code]++
	l.last = r
	l.flushLocked(false)
}

// tick logs what is pending if the interval has passed; force logs it
// anyway.
func (l *refusalLog) tick(force bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked(force)
}

func (l *refusalLog) flushLocked(force bool) {
	if len(l.pending) == 0 {
		return
	}
	now := l.now()
	if !force && now.Before(l.next) {
		return
	}
	l.next = now.Add(l.every)
	if l.log.Enabled(context.Background(), l.level) {
		codes := make([]string, 0, len(l.pending))
		for c := range l.pending {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		counts := make([]any, 0, len(codes))
		n := 0
		for _, c := range codes {
			counts = append(counts, slog.Int(c, l.pending[c]))
			n += l.pending[c]
		}
		attrs := []slog.Attr{slog.Int("count", n), slog.Group("codes", counts...),
			slog.String("last_code", l.last.code), slog.String("last_message", clip(l.last.message)), slog.String("last_remote", l.last.remote)}
		if l.last.path != "" {
			attrs = append(attrs, slog.String("last_path", l.last.path))
		}
		l.log.LogAttrs(context.Background(), l.level, l.msg, attrs...)
	}
	clear(l.pending)
}

// counts returns how many refusals of each code there have been.
func (l *refusalLog) counts() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]uint64, len(l.total))
	for c, n := range l.total {
		m[c] = n
	}
	return m
}
