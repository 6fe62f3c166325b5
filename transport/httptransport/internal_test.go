package httptransport

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nvrha/nvrha/transport"
)

func TestNonceCacheRefusesRepeatsAndForgetsOldNonces(t *testing.T) {
	now := time.Unix(1767254400, 0)
	c := newNonceCache(3, 30*time.Second)
	exp := now.Add(30 * time.Second)
	if err := c.add("a", exp, now); err != nil {
		t.Fatal(err)
	}
	if err := c.add("a", exp, now.Add(30*time.Second)); !errors.Is(err, errReplayed) {
		t.Errorf("repeat at the end of the window: %v", err)
	}
	for _, n := range []string{"b", "c"} {
		if err := c.add(n, now.Add(40*time.Second), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.add("d", exp, now); !errors.Is(err, errNoncesFull) {
		t.Errorf("a fourth live nonce: %v, want the cache full", err)
	}
	if c.len() != 3 {
		t.Errorf("cache holds %d after refusing, want 3", c.len())
	}
	// "a" expires after 30 s; "b" and "c" after 40 s.
	later := now.Add(31 * time.Second)
	if err := c.add("d", later.Add(30*time.Second), later); err != nil {
		t.Errorf("after a expired: %v", err)
	}
	if c.len() != 3 {
		t.Errorf("cache holds %d, want 3 (a pruned, d added)", c.len())
	}
	// Sweeps also run by time alone, so memory shrinks without new pressure.
	much := now.Add(10 * time.Minute)
	if err := c.add("e", much.Add(30*time.Second), much); err != nil {
		t.Fatal(err)
	}
	if c.len() != 1 {
		t.Errorf("cache holds %d long after every other nonce expired, want 1", c.len())
	}
}

func TestHandlerNonceLimitRefusesAsUnavailable(t *testing.T) {
	f := newInternalFixture(t, HandlerConfig{MaxNonces: 2})
	for i := range 2 {
		if w := f.probe(); w.Code != http.StatusOK {
			t.Fatalf("probe %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := f.probe(); w.Code != http.StatusServiceUnavailable {
		t.Errorf("probe over the limit: %d %s", w.Code, w.Body)
	}
	f.now = f.now.Add(DefaultMaxSkew + time.Second)
	if w := f.probe(); w.Code != http.StatusOK {
		t.Errorf("probe once the window passed: %d %s", w.Code, w.Body)
	}
}

func TestDecodeErrorMapsEveryCode(t *testing.T) {
	type want struct {
		unreachable, stale, staleTerm, invalid, unauthenticated bool
	}
	cases := map[string]want{
		`{"code":"unauthenticated","message":"m"}`:                          {unauthenticated: true},
		`{"code":"replayed","message":"m"}`:                                 {unreachable: true},
		`{"code":"wrong_server","message":"m"}`:                             {unreachable: true},
		`{"code":"bad_request","message":"m"}`:                              {},
		`{"code":"invalid_order","message":"m"}`:                            {invalid: true},
		`{"code":"stale_epoch","message":"m","key":"r","got":1,"newest":2}`: {stale: true},
		`{"code":"stale_term","message":"m","got_term":1,"newest_term":2}`:  {staleTerm: true},
		`{"code":"too_large","message":"m"}`:                                {},
		`{"code":"not_found","message":"m"}`:                                {},
		`{"code":"method_not_allowed","message":"m"}`:                       {},
		`{"code":"agent_error","message":"m"}`:                              {},
		`{"code":"unavailable","message":"m"}`:                              {unreachable: true},
	}
	if len(cases) != len(codeStatus) {
		t.Fatalf("%d cases for %d codes", len(cases), len(codeStatus))
	}
	h := "application/json; charset=utf-8"
	for body, w := range cases {
		err := decodeError("rec-1", transport.MethodTakeover, 400, h, []byte(body), nil)
		got := want{
			unreachable:     errors.Is(err, transport.ErrUnreachable),
			stale:           errors.Is(err, transport.ErrStaleEpoch),
			staleTerm:       errors.Is(err, transport.ErrStaleTerm),
			invalid:         errors.Is(err, transport.ErrInvalidOrder),
			unauthenticated: errors.Is(err, ErrUnauthenticated),
		}
		if got != w {
			t.Errorf("%s: %+v, want %+v (%v)", body, got, w, err)
		}
		var re *RemoteError
		if !errors.As(err, &re) {
			t.Errorf("%s: not a RemoteError: %v", body, err)
		}
	}
}
