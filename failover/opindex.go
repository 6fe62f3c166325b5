package failover

// opIndex finds the op that awaits a command, by the command's ID.
//
// IDs are handed out in order, and nearly every command is answered or
// given up within a second: the probes, 5,120 a second at 1,024 servers.
// So a table indexed by an ID's low bits holds nearly every command
// awaited, and a map holds the few that a table's length of newer
// commands pushed out (an order awaited across its retries, an older
// probe kept for a late answer). With a map alone, every probe cost an
// insert and a delete in it, about 3% of a simulated 1,024-server run.
//
// An ID is in the table or in the map, never both.
type opIndex struct {
	ids  []uint64 // by slot, the ID that ops holds there
	ops  []*op    // by slot; nil for a free slot
	more map[uint64]*op
}

// opSlots is the table's length: the IDs of 0.8 s of probes at 1,024
// servers. It is allocated with the first command.
const opSlots = 1 << 12

func (x *opIndex) get(id uint64) (*op, bool) {
	if s := id & (opSlots - 1); x.ops != nil && x.ops[s] != nil && x.ids[s] == id {
		return x.ops[s], true
	}
	o, ok := x.more[id]
	return o, ok
}

func (x *opIndex) set(id uint64, o *op) {
	if x.ops == nil {
		x.ids, x.ops = make([]uint64, opSlots), make([]*op, opSlots)
	}
	s := id & (opSlots - 1)
	if x.ops[s] != nil && x.ids[s] != id {
		// An older command, still awaited, moves to the map.
		if x.more == nil {
			x.more = make(map[uint64]*op)
		}
		x.more[x.ids[s]] = x.ops[s]
	}
	if len(x.more) > 0 {
		delete(x.more, id)
	}
	x.ids[s], x.ops[s] = id, o
}

func (x *opIndex) delete(id uint64) {
	if s := id & (opSlots - 1); x.ops != nil && x.ops[s] != nil && x.ids[s] == id {
		x.ops[s] = nil
		return
	}
	if len(x.more) > 0 {
		delete(x.more, id)
	}
}
