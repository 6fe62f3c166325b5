package transport_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

func TestFenceRejectsStaleEpoch(t *testing.T) {
	var f transport.Fence
	if err := f.Admit("r1", 5); err != nil {
		t.Fatalf("Admit(r1, 5) on a fresh fence: %v", err)
	}
	err := f.Admit("r1", 3)
	var stale *transport.StaleEpochError
	if !errors.As(err, &stale) {
		t.Fatalf("Admit(r1, 3) after 5 = %v, want a *StaleEpochError", err)
	}
	if !errors.Is(err, transport.ErrStaleEpoch) {
		t.Errorf("errors.Is(%v, ErrStaleEpoch) = false", err)
	}
	want := transport.StaleEpochError{Key: "r1", Got: 3, Newest: 5}
	if *stale != want {
		t.Errorf("StaleEpochError = %+v, want %+v", *stale, want)
	}
	if got := f.Newest("r1"); got != 5 {
		t.Errorf("Newest(r1) after a refused Admit = %d, want 5", got)
	}
}

func TestFenceAcceptsEqualAndNewer(t *testing.T) {
	var f transport.Fence
	for _, e := range []nvrha.Epoch{0, 4, 4, 9, 9} {
		if err := f.Admit("r1", e); err != nil {
			t.Fatalf("Admit(r1, %d): %v", e, err)
		}
		if got := f.Newest("r1"); got != e {
			t.Fatalf("Newest(r1) after Admit(%d) = %d", e, got)
		}
	}
}

func TestFenceKeysAreIndependent(t *testing.T) {
	var f transport.Fence
	if err := f.Admit("r1", 10); err != nil {
		t.Fatal(err)
	}
	if err := f.Admit("r2", 1); err != nil {
		t.Errorf("Admit(r2, 1) after Admit(r1, 10): %v", err)
	}
	if got := f.Newest("r3"); got != 0 {
		t.Errorf("Newest of an unseen key = %d, want 0", got)
	}
	if got := f.Newest("r1"); got != 10 {
		t.Errorf("Newest(r1) = %d, want 10", got)
	}
}

func TestFenceSnapshotIsACopy(t *testing.T) {
	var f transport.Fence
	if got := f.Snapshot(); len(got) != 0 {
		t.Fatalf("Snapshot of a zero Fence = %v, want empty", got)
	}
	_ = f.Admit("r1", 3)
	_ = f.Admit("r2", 7)
	snap := f.Snapshot()
	if len(snap) != 2 || snap["r1"] != 3 || snap["r2"] != 7 {
		t.Fatalf("Snapshot = %v, want map[r1:3 r2:7]", snap)
	}
	snap["r1"] = 100
	if got := f.Newest("r1"); got != 3 {
		t.Errorf("changing the snapshot changed the fence: Newest(r1) = %d", got)
	}

	// Restoring a snapshot into a fresh fence is how an agent survives a restart.
	var restored transport.Fence
	for k, e := range f.Snapshot() {
		if err := restored.Admit(k, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := restored.Admit("r2", 6); !errors.Is(err, transport.ErrStaleEpoch) {
		t.Errorf("restored fence accepted an epoch older than the snapshot: %v", err)
	}
}

// TestFenceMatchesReference checks Fence against the obvious model: a map
// holding the largest epoch admitted per key.
func TestFenceMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var f transport.Fence
		ref := map[nvrha.ServerID]nvrha.Epoch{}
		keys := []nvrha.ServerID{"r1", "r2", "r3"}
		n := rapid.IntRange(0, 100).Draw(t, "n")
		for range n {
			k := rapid.SampledFrom(keys).Draw(t, "key")
			e := nvrha.Epoch(rapid.Uint64Range(0, 20).Draw(t, "epoch"))
			err := f.Admit(k, e)
			if wantStale := e < ref[k]; wantStale != (err != nil) {
				t.Fatalf("Admit(%s, %d) with newest %d = %v", k, e, ref[k], err)
			}
			if err != nil && !errors.Is(err, transport.ErrStaleEpoch) {
				t.Fatalf("Admit(%s, %d) = %v, want ErrStaleEpoch", k, e, err)
			}
			ref[k] = max(ref[k], e)
			for _, k := range keys {
				if got := f.Newest(k); got != ref[k] {
					t.Fatalf("Newest(%s) = %d, reference %d", k, got, ref[k])
				}
			}
		}
	})
}

// TestFenceConcurrentAdmitKeepsMax races many Admits; run it with -race. No
// interleaving may lose the largest epoch, refuse an epoch that is not older
// than the final newest, or let a reader see the newest go down.
func TestFenceConcurrentAdmitKeepsMax(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := []nvrha.ServerID{"r1", "r2"}
		workers := rapid.IntRange(2, 6).Draw(t, "workers")
		seed := rapid.Uint64().Draw(t, "seed")
		var f transport.Fence
		var mu sync.Mutex
		admitted := map[nvrha.ServerID]nvrha.Epoch{}
		var refused []transport.StaleEpochError
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(w)))
				seen := map[nvrha.ServerID]nvrha.Epoch{}
				for range 200 {
					k := keys[r.IntN(len(keys))]
					e := nvrha.Epoch(r.IntN(1000))
					err := f.Admit(k, e)
					if n := f.Newest(k); n < seen[k] {
						t.Errorf("Newest(%s) went down from %d to %d", k, seen[k], n)
					} else {
						seen[k] = n
					}
					mu.Lock()
					var stale *transport.StaleEpochError
					if errors.As(err, &stale) {
						refused = append(refused, *stale)
					} else if err == nil {
						admitted[k] = max(admitted[k], e)
					} else {
						t.Errorf("Admit(%s, %d) = %v", k, e, err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, k := range keys {
			if got := f.Newest(k); got != admitted[k] {
				t.Fatalf("Newest(%s) = %d, largest admitted %d", k, got, admitted[k])
			}
		}
		for _, s := range refused {
			if s.Got >= s.Newest || s.Newest > admitted[s.Key] {
				t.Fatalf("refusal %+v does not fit largest admitted %d", s, admitted[s.Key])
			}
		}
	})
}
