package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// semantics drives the agent through what the center does with a server
// of its kind and checks, after each order, what the agent reports: a
// standby takes over peer's cameras and releases them; a recording server
// stands down and resumes, its half of a takeover and of a failback. Each
// order is sent twice (the second is a retry and must be accepted, and
// change nothing), and the order the next one undoes is sent again late,
// with its older epoch, and must be refused and change nothing. The agent
// ends as it began, with the epochs used recorded.
type semantics struct {
	k    *checker
	c    *httptransport.Client // verifies responses; probes over HTTP only
	peer nvrha.ServerID
	// udpPort is the agent's UDP probe port, 0 if it offers none.
	udpPort uint16
	term    uint64
}

func (s *semantics) run(cameras int) {
	if cameras == 0 {
		s.standby()
	} else {
		s.recording()
	}
}

// standby checks takeover and release on a standby.
func (s *semantics) standby() {
	k, peer := s.k, s.peer
	ctx, cancel := context.WithTimeout(k.ctx, 20*k.timeout)
	defer cancel()
	cams := []nvrha.CameraID{nvrha.CameraID(peer) + "/nvragentcheck-cam-1", nvrha.CameraID(peer) + "/nvragentcheck-cam-2"}
	if err := s.expectProbe(ctx, "before", func(r transport.ProbeReport) error {
		if r.Covering != "" {
			return fmt.Errorf("the standby covers %s already: -semantics needs one that covers nobody", r.Covering)
		}
		return nil
	}); err != nil {
		k.check("semantics: the standby covers nobody to begin with", func() error { return err })
		return
	}
	e := nvrha.Epoch(1)
	takeover := func(e nvrha.Epoch) error {
		return s.c.Takeover(ctx, k.id, transport.TakeoverOrder{Recording: peer, Epoch: e, Cameras: cams, Term: s.term})
	}
	k.check(fmt.Sprintf("semantics: takeover of %s: the probe over HTTP shows it covering, at the order's epoch", peer), func() error {
		if err := s.first(takeover, &e); err != nil {
			return fmt.Errorf("takeover: %w", err)
		}
		return s.expectProbe(ctx, "after the takeover", covering(peer, e))
	})
	s.udp(fmt.Sprintf("semantics: takeover of %s: the probe over UDP shows it covering too", peer), covering(peer, e))
	k.check("semantics: the same takeover again (a retry, same epoch) is accepted and changes nothing", func() error {
		if err := takeover(e); err != nil {
			return fmt.Errorf("the retry: %w", err)
		}
		return s.expectProbe(ctx, "after the retry", covering(peer, e))
	})
	release := func(e nvrha.Epoch) error {
		return s.c.Release(ctx, k.id, transport.ReleaseOrder{Recording: peer, Epoch: e, Term: s.term})
	}
	k.check("semantics: a release with a newer epoch ends covering", func() error {
		if err := release(e + 1); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		return s.expectProbe(ctx, "after the release", coveringNobody)
	})
	s.udp("semantics: after the release the probe over UDP shows it covering nobody too", coveringNobody)
	k.check("semantics: the takeover arriving late (older epoch) after the release is refused (409 stale_epoch) and changes nothing", func() error {
		if err := stale(takeover(e), peer, e, e+1); err != nil {
			return err
		}
		return s.expectProbe(ctx, "after the late takeover", coveringNobody)
	})
	k.check("semantics: the same release again (a retry) is accepted", func() error {
		if err := release(e + 1); err != nil {
			return fmt.Errorf("the retry: %w", err)
		}
		return s.expectProbe(ctx, "after the retry", coveringNobody)
	})
}

// recording checks stand-down and resume on a recording server.
func (s *semantics) recording() {
	k := s.k
	ctx, cancel := context.WithTimeout(k.ctx, 20*k.timeout)
	defer cancel()
	var e nvrha.Epoch
	if err := s.expectProbe(ctx, "before", func(r transport.ProbeReport) error {
		if !r.Recording || r.Covering != "" {
			return fmt.Errorf("the server reports recording %v, covering %q: -semantics needs a recording server that records its cameras", r.Recording, r.Covering)
		}
		e = r.Epoch + 1
		return nil
	}); err != nil {
		k.check("semantics: the recording server records its cameras to begin with", func() error { return err })
		return
	}
	standDown := func(e nvrha.Epoch) error {
		return s.c.StandDown(ctx, k.id, transport.StandDownOrder{Epoch: e, Term: s.term})
	}
	resume := func(e nvrha.Epoch) error {
		return s.c.Resume(ctx, k.id, transport.ResumeOrder{Epoch: e, Term: s.term})
	}
	k.check("semantics: stand-down (a takeover's half): the probe over HTTP shows it not recording, at the order's epoch", func() error {
		if err := s.first(standDown, &e); err != nil {
			return fmt.Errorf("stand-down: %w", err)
		}
		return s.expectProbe(ctx, "after the stand-down", recording(false, e))
	})
	s.udp("semantics: stand-down: the probe over UDP shows it not recording too", recording(false, e))
	k.check("semantics: the same stand-down again (a retry, same epoch) is accepted and changes nothing", func() error {
		if err := standDown(e); err != nil {
			return fmt.Errorf("the retry: %w", err)
		}
		return s.expectProbe(ctx, "after the retry", recording(false, e))
	})
	k.check("semantics: resume with a newer epoch (failback's first half) records again", func() error {
		if err := resume(e + 1); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		return s.expectProbe(ctx, "after the resume", recording(true, e+1))
	})
	s.udp("semantics: after the resume the probe over UDP shows it recording too", recording(true, e+1))
	k.check("semantics: the stand-down arriving late (older epoch) after the resume is refused (409 stale_epoch) and changes nothing", func() error {
		if err := stale(standDown(e), k.id, e, e+1); err != nil {
			return err
		}
		return s.expectProbe(ctx, "after the late stand-down", recording(true, e+1))
	})
	k.check("semantics: the same resume again (a retry) is accepted", func() error {
		if err := resume(e + 1); err != nil {
			return fmt.Errorf("the retry: %w", err)
		}
		return s.expectProbe(ctx, "after the retry", recording(true, e+1))
	})
}

// first sends a sequence's first order at epoch *e and the check's term.
// If the agent refuses it as stale, it has accepted a newer epoch or term
// from a center before: the order is sent again above them, and *e and
// the term are those used from then on. A refused order changes nothing,
// and the newest term an agent has accepted is one it accepts.
func (s *semantics) first(send func(nvrha.Epoch) error, e *nvrha.Epoch) error {
	for range 3 {
		err := send(*e)
		var (
			staleTerm  *transport.StaleTermError
			staleEpoch *transport.StaleEpochError
		)
		switch {
		case errors.As(err, &staleTerm) && staleTerm.Newest > s.term:
			s.term = staleTerm.Newest
		case errors.As(err, &staleEpoch) && staleEpoch.Newest >= *e:
			*e = staleEpoch.Newest + 1
		default:
			return err
		}
	}
	return errors.New("still refused as stale after going above the agent's newest term and epoch")
}

// stale checks that err is the refusal of an order at epoch got for key,
// the agent's newest being newest.
func stale(err error, key nvrha.ServerID, got, newest nvrha.Epoch) error {
	var se *transport.StaleEpochError
	if !errors.As(err, &se) || se.Key != key || se.Got != got || se.Newest != newest {
		return fmt.Errorf("got %v, want a stale epoch refusal with key %s, got %d, newest %d", err, key, got, newest)
	}
	return nil
}

// expectProbe probes the agent over HTTP and checks its report with want.
func (s *semantics) expectProbe(ctx context.Context, when string, want func(transport.ProbeReport) error) error {
	r, err := s.c.Probe(ctx, s.k.id)
	if err != nil {
		return fmt.Errorf("probe %s: %w", when, err)
	}
	if err := want(r); err != nil {
		return fmt.Errorf("probe over HTTP %s: %w", when, err)
	}
	return nil
}

// udp checks the report of a probe over UDP with want, or skips if the
// agent offers none.
func (s *semantics) udp(name string, want func(transport.ProbeReport) error) {
	if s.udpPort == 0 {
		s.k.skip(name, "the agent advertises no udp_port")
		return
	}
	s.k.check(name, func() error {
		r, err := s.k.probeUDP(s.udpPort)
		if err != nil {
			return err
		}
		return want(r)
	})
}

// coveringNobody checks a standby's report once it covers nobody. Its
// epoch is then its newest for itself, not the orders', so it is not
// checked.
func coveringNobody(r transport.ProbeReport) error {
	if r.Covering != "" {
		return fmt.Errorf("covering %q, want nobody", r.Covering)
	}
	return nil
}

func covering(peer nvrha.ServerID, e nvrha.Epoch) func(transport.ProbeReport) error {
	return func(r transport.ProbeReport) error {
		if r.Covering != peer || r.Epoch != e {
			return fmt.Errorf("covering %q at epoch %d, want %q at epoch %d", r.Covering, r.Epoch, peer, e)
		}
		return nil
	}
}

func recording(on bool, e nvrha.Epoch) func(transport.ProbeReport) error {
	return func(r transport.ProbeReport) error {
		if r.Recording != on || r.Epoch != e {
			return fmt.Errorf("recording %v at epoch %d, want %v at epoch %d", r.Recording, r.Epoch, on, e)
		}
		return nil
	}
}

// udpPort reads the udp_port of a probe answer over HTTP: the port of the
// agent's UDP probe channel, 0 if it offers none.
func (k *checker) udpPort() (uint16, error) {
	res, err := k.do(k.signed("probe", nil, k.id, k.key))
	if err != nil {
		return 0, err
	}
	if res.status != http.StatusOK {
		return 0, fmt.Errorf("probe: status %d", res.status)
	}
	var a struct {
		UDPPort uint16 `json:"udp_port"`
	}
	if err := json.Unmarshal(res.body, &a); err != nil {
		return 0, fmt.Errorf("probe answer: %w", err)
	}
	return a.UDPPort, nil
}
