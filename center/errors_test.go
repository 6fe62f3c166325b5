package center

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// levelCounter counts the records at or above ERROR.
type levelCounter struct {
	slog.Handler
	errors int
}

func (l *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.errors++
	}
	return nil
}

// Every error an operation can return for a reason the caller can act on
// has its own status and code: none is a 500 logged as a bug.
func TestFailMapsEveryOperationError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		kind string
	}{
		{&failover.RejectedError{Servers: []failover.Rejection{{Server: "s"}}}, http.StatusUnprocessableEntity, "ineligible"},
		{failover.ErrIneligible, http.StatusUnprocessableEntity, "ineligible"},
		{fmt.Errorf("x: %w", nvrha.ErrInvalidFacts), http.StatusUnprocessableEntity, "invalid_facts"},
		{failover.ErrGroupNotFound, http.StatusNotFound, "not_found"},
		{failover.ErrServerNotFound, http.StatusNotFound, "not_found"},
		{failover.ErrNotMember, http.StatusConflict, "not_member"},
		{&failover.InTakeoverError{Server: "a", Peer: "b"}, http.StatusConflict, "in_takeover"},
		{failover.ErrNotTakenOver, http.StatusConflict, "not_taken_over"},
		{fmt.Errorf("%w: rec-1 is down", failover.ErrNotRecovered), http.StatusConflict, "not_recovered"},
		{failover.ErrNotRecordingServer, http.StatusConflict, "not_recording_server"},
		{failover.ErrFailbackBusy, http.StatusConflict, "failback_busy"},
		{failover.ErrDefaultGroup, http.StatusConflict, "conflict"},
		{failover.ErrDuplicateGroupName, http.StatusConflict, "conflict"},
		{failover.ErrTooManyGroups, http.StatusConflict, "conflict"},
		{failover.ErrFactsChanged, http.StatusConflict, "conflict"},
		{failover.ErrInvalidGroupName, http.StatusBadRequest, "bad_request"},
		{failover.ErrEmptyBatch, http.StatusBadRequest, "bad_request"},
		{failover.ErrDuplicateServer, http.StatusBadRequest, "bad_request"},
		{failover.ErrInvalidPriority, http.StatusBadRequest, "bad_request"},
		{fmt.Errorf("x: %w", nvrha.ErrInvalidID), http.StatusBadRequest, "bad_request"},
		{ErrTooManyAttempts, http.StatusTooManyRequests, "too_many_attempts"},
		{ErrApprovalInvalid, http.StatusForbidden, "verification_failed"},
		{&failover.VerificationError{Op: "delete group", Err: ErrApprovalInvalid}, http.StatusForbidden, "verification_failed"},
		{fmt.Errorf("%w: %w", failover.ErrVerificationRequired, failover.ErrApprovalExpired), http.StatusForbidden, "verification_required"},
		{fmt.Errorf("%w: %w", failover.ErrVerificationRequired, failover.ErrApprovalUsed), http.StatusForbidden, "verification_required"},
		{&failover.StoreFailingError{Since: time.Now(), Failures: 3, Err: errors.New("disk full")}, http.StatusServiceUnavailable, "store_failing"},
		{fmt.Errorf("%w: %w", failover.ErrSavePending, context.DeadlineExceeded), http.StatusServiceUnavailable, "save_pending"},
		{fmt.Errorf("%w: lease lost", failover.ErrTermRevoked), http.StatusServiceUnavailable, "not_leader"},
		{failover.ErrControllerStopped, http.StatusServiceUnavailable, "unavailable"},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			lc := &levelCounter{}
			c := &Center{log: slog.New(lc)}
			w := httptest.NewRecorder()
			c.fail(w, httptest.NewRequest("POST", "/api/v1/servers/rec-1/failback", nil), tc.err)
			var body apiError
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.code || body.Error.Code != tc.kind {
				t.Errorf("%d %q, want %d %q", w.Code, body.Error.Code, tc.code, tc.kind)
			}
			if lc.errors != 0 {
				t.Errorf("logged at ERROR: the caller's error is no bug of the center")
			}
		})
	}
}
