package etcdha

import (
	"time"

	"github.com/nvrha/nvrha/failover"
)

// NewLeadershipForTest makes a Leadership of an election won by hand.
func NewLeadershipForTest(key string, rev int64, deadline time.Time) *Leadership {
	return newLeadership(key, rev, deadline)
}

// RevokeForTest revokes l.
func (l *Leadership) RevokeForTest(err error) { l.revoke(err) }

// EncodeStateForTest returns the values of st's keys.
func EncodeStateForTest(st failover.State) (map[string][]byte, error) { return encodeState(st) }

// TxnSize is the size of one transaction a save would send.
type TxnSize struct{ Ops, Bytes int }

// SplitForTest returns the transactions a first save of vals would send.
func SplitForTest(cfg StoreConfig, vals map[string][]byte) []TxnSize {
	s := &Store{cfg: cfg.withDefaults(), known: map[string][]byte{}}
	ops, sizes := s.diff(vals)
	var out []TxnSize
	i := 0
	for _, b := range s.split(ops, sizes) {
		ts := TxnSize{Ops: len(b) + 1}
		for range b {
			ts.Bytes += sizes[i]
			i++
		}
		out = append(out, ts)
	}
	return out
}
