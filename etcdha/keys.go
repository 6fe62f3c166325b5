package etcdha

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// The keys of a State, under Config.Prefix + "state/". One key per part, so
// that a change writes only the parts it touched and no value comes near
// etcd's request limit (1.5 MiB by default): the largest, a camera's ledger
// at failover.DefaultLedgerLimit intervals with the longest IDs, is about
// 400 KiB.
const (
	keyMeta     = "meta"      // version and the next group and command IDs
	dirGroup    = "group/"    // + group ID, 10 digits: name, protection, member IDs in order
	dirMember   = "member/"   // + server ID: its MemberState
	dirEpoch    = "epoch/"    // + server ID: the newest epoch issued for it
	dirTakeover = "takeover/" // + position, 6 digits: a TakeoverState
	dirOwed     = "owed/"     // + position, 6 digits: an OwedState
	dirLedger   = "ledger/"   // + camera ID: its intervals
)

// keySaving, beside the state's keys, marks a save written in several
// transactions and not finished: while it exists, the state's keys may mix
// two States, and the last whole one is the one at the revision before the
// marker was created.
const keySaving = "saving"

type metaValue struct {
	Version       int               `json:"version"`
	NextGroupID   failover.GroupID  `json:"next_group_id"`
	NextCommandID uint64            `json:"next_command_id"`
	Groups        int               `json:"groups"`
	Members       int               `json:"members"`
	Counts        map[string]uint64 `json:"counts,omitempty"`
}

type groupValue struct {
	ID         failover.GroupID `json:"id"`
	Name       string           `json:"name"`
	Protection bool             `json:"protection"`
	Members    []nvrha.ServerID `json:"members"`
}

type memberValue struct {
	Group failover.GroupID `json:"group"`
	failover.MemberState
}

type ledgerValue struct {
	Intervals []failover.Interval `json:"intervals"`
}

// encodeState returns the values of st's keys, relative to the state's
// directory. Every value is JSON.
func encodeState(st failover.State) (map[string][]byte, error) {
	out := make(map[string][]byte, 1+len(st.Groups)*8+len(st.Epochs)+len(st.Ledger))
	put := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("etcdha: encode %s: %w", key, err)
		}
		out[key] = b
		return nil
	}
	members := 0
	for _, g := range st.Groups {
		gv := groupValue{ID: g.ID, Name: g.Name, Protection: g.Protection, Members: make([]nvrha.ServerID, 0, len(g.Members))}
		for _, m := range g.Members {
			gv.Members = append(gv.Members, m.Facts.ID)
			key := dirMember + string(m.Facts.ID)
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("%w: server %s in two places", failover.ErrCorruptState, m.Facts.ID)
			}
			if err := put(key, memberValue{Group: g.ID, MemberState: m}); err != nil {
				return nil, err
			}
			members++
		}
		if err := put(groupKey(g.ID), gv); err != nil {
			return nil, err
		}
	}
	if err := put(keyMeta, metaValue{Version: st.Version, NextGroupID: st.NextGroupID, NextCommandID: st.NextCommandID,
		Groups: len(st.Groups), Members: members}); err != nil {
		return nil, err
	}
	for _, e := range st.Epochs {
		out[dirEpoch+string(e.Server)] = strconv.AppendUint(nil, uint64(e.Epoch), 10)
	}
	for i, t := range st.Takeovers {
		if err := put(dirTakeover+position(i), t); err != nil {
			return nil, err
		}
	}
	for i, o := range st.Owed {
		if err := put(dirOwed+position(i), o); err != nil {
			return nil, err
		}
	}
	for _, l := range st.Ledger {
		if err := put(dirLedger+string(l.Camera), ledgerValue{Intervals: l.Intervals}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeChanges returns the values of the keys c changes in st, the State
// after them, relative to the state's directory; a nil value deletes its
// key. known is what etcd holds, for the positions no longer used.
func encodeChanges(st *failover.State, c failover.Changes, known map[string][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	put := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("etcdha: encode %s: %w", key, err)
		}
		out[key] = b
		return nil
	}
	members := 0
	for _, g := range st.Groups {
		members += len(g.Members)
	}
	if err := put(keyMeta, metaValue{Version: st.Version, NextGroupID: st.NextGroupID, NextCommandID: st.NextCommandID,
		Groups: len(st.Groups), Members: members}); err != nil {
		return nil, err
	}
	groupAt := map[failover.GroupID]int{}
	for i, g := range st.Groups {
		groupAt[g.ID] = i
	}
	for _, gc := range c.Groups {
		i, ok := groupAt[gc.ID]
		if !ok {
			out[groupKey(gc.ID)] = nil
			continue
		}
		g := st.Groups[i]
		gv := groupValue{ID: g.ID, Name: g.Name, Protection: g.Protection, Members: make([]nvrha.ServerID, 0, len(g.Members))}
		for _, m := range g.Members {
			gv.Members = append(gv.Members, m.Facts.ID)
		}
		if err := put(groupKey(g.ID), gv); err != nil {
			return nil, err
		}
	}
	for _, mc := range c.Members {
		key := dirMember + string(mc.Server)
		if mc.Deleted {
			out[key] = nil
			continue
		}
		if err := put(key, memberValue{Group: mc.Group, MemberState: mc.Member}); err != nil {
			return nil, err
		}
	}
	for _, e := range c.Epochs {
		out[dirEpoch+string(e.Server)] = strconv.AppendUint(nil, uint64(e.Epoch), 10)
	}
	// Takeovers and owed orders are kept by position: when any changed, or
	// a group did (which may move them), all are written again, and the
	// positions left over deleted.
	positional := func(dir string, n int, at func(i int) any) error {
		for i := range n {
			if err := put(dir+position(i), at(i)); err != nil {
				return err
			}
		}
		// Positions run from 0 without a gap.
		for i := n; ; i++ {
			k := dir + position(i)
			if _, ok := known[k]; !ok {
				return nil
			}
			out[k] = nil
		}
	}
	if len(c.Takeovers) > 0 || len(c.Groups) > 0 {
		if err := positional(dirTakeover, len(st.Takeovers), func(i int) any { return st.Takeovers[i] }); err != nil {
			return nil, err
		}
	}
	if len(c.Owed) > 0 || c.OrphansChanged || len(c.Groups) > 0 {
		if err := positional(dirOwed, len(st.Owed), func(i int) any { return st.Owed[i] }); err != nil {
			return nil, err
		}
	}
	for _, lc := range c.Ledger {
		i, ok := slices.BinarySearchFunc(st.Ledger, lc.Camera, func(l failover.CameraLedger, id nvrha.CameraID) int {
			return strings.Compare(string(l.Camera), string(id))
		})
		if !ok {
			return nil, fmt.Errorf("%w: the ledger of %s is not in the State its change built", failover.ErrCorruptState, lc.Camera)
		}
		if err := put(dirLedger+string(lc.Camera), ledgerValue{Intervals: st.Ledger[i].Intervals}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func groupKey(id failover.GroupID) string { return dirGroup + fmt.Sprintf("%010d", id) }

func position(i int) string { return fmt.Sprintf("%06d", i) }

// decodeState rebuilds a State from the values of its keys, relative to the
// state's directory. Anything that does not fit is an error wrapping
// failover.ErrCorruptStore.
func decodeState(kv map[string][]byte) (failover.State, error) {
	corrupt := func(key string, format string, args ...any) error {
		return fmt.Errorf("%w: etcd key %q: %s", failover.ErrCorruptStore, key, fmt.Sprintf(format, args...))
	}
	strict := func(key string, b []byte, v any) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return corrupt(key, "%v", err)
		}
		return nil
	}
	var st failover.State
	raw, ok := kv[keyMeta]
	if !ok {
		return st, fmt.Errorf("%w: no %s key", failover.ErrCorruptStore, keyMeta)
	}
	var meta metaValue
	if err := strict(keyMeta, raw, &meta); err != nil {
		return st, err
	}
	st.Version, st.NextGroupID, st.NextCommandID = meta.Version, meta.NextGroupID, meta.NextCommandID

	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range kv {
			if !yield(k) {
				return
			}
		}
	})
	members := map[nvrha.ServerID]memberValue{}
	used := 0
	for _, k := range keys {
		v := kv[k]
		switch {
		case k == keyMeta:
		case strings.HasPrefix(k, dirGroup):
			var gv groupValue
			if err := strict(k, v, &gv); err != nil {
				return st, err
			}
			if k != groupKey(gv.ID) {
				return st, corrupt(k, "holds group %d", gv.ID)
			}
			gs := failover.GroupState{ID: gv.ID, Name: gv.Name, Protection: gv.Protection}
			for _, id := range gv.Members {
				gs.Members = append(gs.Members, failover.MemberState{Facts: nvrha.Facts{ID: id}})
			}
			st.Groups = append(st.Groups, gs)
		case strings.HasPrefix(k, dirMember):
			var mv memberValue
			if err := strict(k, v, &mv); err != nil {
				return st, err
			}
			id := nvrha.ServerID(strings.TrimPrefix(k, dirMember))
			if mv.Facts.ID != id {
				return st, corrupt(k, "holds server %q", mv.Facts.ID)
			}
			members[id] = mv
		case strings.HasPrefix(k, dirEpoch):
			e, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return st, corrupt(k, "%v", err)
			}
			st.Epochs = append(st.Epochs, failover.EpochState{Server: nvrha.ServerID(strings.TrimPrefix(k, dirEpoch)), Epoch: nvrha.Epoch(e)})
		case strings.HasPrefix(k, dirTakeover):
			var t failover.TakeoverState
			if err := strict(k, v, &t); err != nil {
				return st, err
			}
			if k != dirTakeover+position(len(st.Takeovers)) {
				return st, corrupt(k, "out of sequence")
			}
			st.Takeovers = append(st.Takeovers, t)
		case strings.HasPrefix(k, dirOwed):
			var o failover.OwedState
			if err := strict(k, v, &o); err != nil {
				return st, err
			}
			if k != dirOwed+position(len(st.Owed)) {
				return st, corrupt(k, "out of sequence")
			}
			st.Owed = append(st.Owed, o)
		case strings.HasPrefix(k, dirLedger):
			var lv ledgerValue
			if err := strict(k, v, &lv); err != nil {
				return st, err
			}
			st.Ledger = append(st.Ledger, failover.CameraLedger{Camera: nvrha.CameraID(strings.TrimPrefix(k, dirLedger)), Intervals: lv.Intervals})
		default:
			return st, corrupt(k, "not a key of this format")
		}
	}
	for gi := range st.Groups {
		g := &st.Groups[gi]
		for mi := range g.Members {
			id := g.Members[mi].Facts.ID
			mv, ok := members[id]
			if !ok || mv.Group != g.ID {
				return st, fmt.Errorf("%w: group %d lists server %q, which has no member key of that group", failover.ErrCorruptStore, g.ID, id)
			}
			g.Members[mi] = mv.MemberState
			delete(members, id)
			used++
		}
	}
	if len(members) > 0 || len(st.Groups) != meta.Groups || used != meta.Members {
		return st, fmt.Errorf("%w: %d groups and %d members, %d of them in no group; the meta key says %d and %d",
			failover.ErrCorruptStore, len(st.Groups), used+len(members), len(members), meta.Groups, meta.Members)
	}
	return st, nil
}
