package transport_test

import (
	"errors"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

func TestFenceRefusesAnOlderTermAndChangesNothing(t *testing.T) {
	var f transport.Fence
	if err := f.AdmitOrder(7, "r1", 3); err != nil {
		t.Fatalf("AdmitOrder(7, r1, 3) on a fresh fence: %v", err)
	}
	// A newer epoch does not excuse an older term: the order comes from a
	// replaced center, which may have drawn its epoch from an old state.
	for _, term := range []uint64{0, 6} {
		err := f.AdmitOrder(term, "r1", 9)
		var stale *transport.StaleTermError
		if !errors.As(err, &stale) || !errors.Is(err, transport.ErrStaleTerm) {
			t.Fatalf("AdmitOrder(%d, r1, 9) after term 7 = %v, want a *StaleTermError", term, err)
		}
		if want := (transport.StaleTermError{Got: term, Newest: 7}); *stale != want {
			t.Errorf("StaleTermError = %+v, want %+v", *stale, want)
		}
		if errors.Is(err, transport.ErrStaleEpoch) {
			t.Errorf("a stale term also claims a stale epoch: %v", err)
		}
	}
	if got := f.Newest("r1"); got != 3 {
		t.Errorf("Newest(r1) after refused orders = %d, want 3", got)
	}
	if got := f.Term(); got != 7 {
		t.Errorf("Term() after refused orders = %d, want 7", got)
	}
}

func TestFenceTermZeroWorksUntilATermIsSeen(t *testing.T) {
	var f transport.Fence
	for e := range 3 {
		if err := f.AdmitOrder(0, "r1", nvrha.Epoch(e+1)); err != nil {
			t.Fatalf("term 0 on a fence that never saw a term: %v", err)
		}
	}
	if err := f.AdmitOrder(1, "r1", 3); err != nil {
		t.Fatal(err)
	}
	if err := f.AdmitOrder(0, "r1", 4); !errors.Is(err, transport.ErrStaleTerm) {
		t.Errorf("term 0 after term 1 = %v, want ErrStaleTerm", err)
	}
}

func TestFenceNewerTermStillChecksTheEpoch(t *testing.T) {
	var f transport.Fence
	if err := f.AdmitOrder(1, "r1", 5); err != nil {
		t.Fatal(err)
	}
	err := f.AdmitOrder(2, "r1", 4)
	if !errors.Is(err, transport.ErrStaleEpoch) {
		t.Fatalf("an older epoch under a newer term = %v, want ErrStaleEpoch", err)
	}
	if got := f.Term(); got != 1 {
		t.Errorf("a refused order recorded its term: Term() = %d, want 1", got)
	}
	// Equal terms and epochs are retries.
	for range 2 {
		if err := f.AdmitOrder(2, "r1", 5); err != nil {
			t.Errorf("AdmitOrder(2, r1, 5): %v", err)
		}
	}
	if got := f.Term(); got != 2 {
		t.Errorf("Term() = %d, want 2", got)
	}
}

func TestFenceCheckRecordsNothing(t *testing.T) {
	var f transport.Fence
	if err := f.Check(4, "r1", 2); err != nil {
		t.Fatal(err)
	}
	if f.Term() != 0 || f.Newest("r1") != 0 {
		t.Errorf("Check recorded: term %d, epoch %d", f.Term(), f.Newest("r1"))
	}
	if err := f.AdmitTerm(4); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(3, "r1", 2); !errors.Is(err, transport.ErrStaleTerm) {
		t.Errorf("Check of an older term = %v, want ErrStaleTerm", err)
	}
	if err := f.AdmitTerm(2); !errors.Is(err, transport.ErrStaleTerm) {
		t.Errorf("AdmitTerm(2) after 4 = %v, want ErrStaleTerm", err)
	}
	if got := f.Term(); got != 4 {
		t.Errorf("Term() = %d, want 4", got)
	}
}
