package compare

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nvrha/nvrha/simulator"
)

// Run is what a Side pools of one report, in a form that outlives the
// report: a campaign writes one per world and run, so that it can stop and
// go on later, or be split across machines and pooled afterwards. Pooling
// Runs gives exactly the figures pooling their reports gives.
type Run struct {
	Seed     uint64 `json:"seed"`
	Baseline bool   `json:"baseline"`
	Oracle   bool   `json:"oracle,omitempty"`
	Detector string `json:"detector"`
	// FaultPlan is the run's Report.FaultPlan: the same on every side of
	// one world.
	FaultPlan string `json:"fault_plan,omitempty"`
	// Simulated is how far the run got; Servers and Cameras the world's.
	Simulated time.Duration `json:"simulated"`
	Servers   int           `json:"servers"`
	Cameras   int           `json:"cameras"`
	Incidents int           `json:"incidents"`
	// Crashes counts the incidents with a crash among their faults, and
	// Crashed their duration, from fault to close.
	Crashes int           `json:"crashes"`
	Crashed time.Duration `json:"crashed"`
	// LostFootage counts the incidents in which a server lost footage;
	// Detect and Takeover are theirs (the detected and the taken over).
	LostFootage int             `json:"lost_footage"`
	Detect      []time.Duration `json:"detect,omitempty"`
	Takeover    []time.Duration `json:"takeover,omitempty"`
	// Gaps is the footage each camera lost in each incident
	// (Report.CameraGaps); GapsComplete is false when the run dropped
	// samples.
	Gaps                      []time.Duration `json:"gaps,omitempty"`
	GapsComplete              bool            `json:"gaps_complete"`
	TakeoversStarted          int             `json:"takeovers_started"`
	FalseTakeovers            int             `json:"false_takeovers"`
	UnexplainedFalseTakeovers int             `json:"unexplained_false_takeovers"`
	FootageLost               time.Duration   `json:"footage_lost"`
	// Classes splits the incidents and the footage lost by the first
	// fault of each incident (ClassOf).
	Classes []ClassRun `json:"classes,omitempty"`
	// Scarcity is the run's Report.Scarcity.
	Scarcity simulator.Scarcity `json:"scarcity"`
	// Failure says why the run failed (an invariant or an expectation);
	// nil for a run that passed.
	Failure *Failure `json:"failure,omitempty"`
}

// Failure is why a run failed, and how to run it again.
type Failure struct {
	// Invariant is the number of the invariant broken; 0 when only a
	// scenario's expectation failed.
	Invariant int    `json:"invariant,omitempty"`
	Detail    string `json:"detail"`
	Replay    string `json:"replay"`
}

// RunOf extracts from r what a Side pools.
func RunOf(r *simulator.Report) Run {
	out := Run{Seed: r.Seed, Baseline: r.Baseline, Oracle: r.Oracle, Detector: r.Detector, FaultPlan: r.FaultPlan,
		Simulated: r.Simulated,
		Incidents: len(r.Incidents), TakeoversStarted: r.TakeoversStarted, FalseTakeovers: r.FalseTakeovers,
		UnexplainedFalseTakeovers: r.UnexplainedFalseTakeovers, FootageLost: r.FootageLost}
	for _, sv := range r.World.Servers() {
		out.Servers++
		out.Cameras += sv.Cameras
	}
	for _, inc := range r.Incidents {
		if slices.Contains(inc.Faults, simulator.FaultCrash) {
			out.Crashes++
			out.Crashed += inc.Closed - inc.Start
		}
		if !inc.LostFootage {
			continue
		}
		out.LostFootage++
		if inc.Detected {
			out.Detect = append(out.Detect, inc.Detect)
		}
		if inc.TakenOver {
			out.Takeover = append(out.Takeover, inc.Takeover)
		}
	}
	out.Gaps, out.GapsComplete = r.CameraGaps()
	out.Classes, out.Scarcity = classesOf(r), r.Scarcity
	switch {
	case r.Violation != nil:
		out.Failure = &Failure{Invariant: r.Violation.Invariant, Detail: r.Violation.Detail, Replay: r.Replay}
	case !r.OK():
		for _, e := range r.Expectations {
			if !e.OK {
				out.Failure = &Failure{Detail: fmt.Sprintf("expectation on line %d: %s: %s", e.Line, e.Text, e.Detail),
					Replay: r.Replay}
				break
			}
		}
	}
	return out
}

// ErrBadRuns is wrapped by the errors of ReadRuns.
var ErrBadRuns = errors.New("compare: bad runs file")

// WriteRun writes r as one line of JSON.
func WriteRun(w io.Writer, r Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadRuns reads the lines WriteRun wrote. A last line cut short (a
// campaign killed while writing) is dropped, and good says how many bytes
// of rd hold the lines read, so that a writer can cut the rest off before
// it appends. Any other line that is not a Run is an error wrapping
// ErrBadRuns that names the line.
func ReadRuns(rd io.Reader) (runs []Run, good int64, err error) {
	br := bufio.NewReader(rd)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline was cut short: the
			// writer ends every line it finishes with one.
			return runs, good, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %v", ErrBadRuns, err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var r Run
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				return nil, 0, fmt.Errorf("%w: line %d: %v", ErrBadRuns, line, err)
			}
			runs = append(runs, r)
		}
		good += int64(len(b))
	}
}

// AddRun pools one run.
func (s *Side) AddRun(r Run) {
	if s.Runs == 0 {
		s.Detector = r.Detector
	}
	s.Runs++
	s.incidents += r.Incidents
	s.lostIncidents += r.LostFootage
	s.detect = append(s.detect, r.Detect...)
	s.takeover = append(s.takeover, r.Takeover...)
	s.gap = append(s.gap, r.Gaps...)
	s.incomplete = s.incomplete || !r.GapsComplete
	s.falseTakeovers += r.FalseTakeovers
	s.unexplained += r.UnexplainedFalseTakeovers
	s.takeovers += r.TakeoversStarted
	s.lost += r.FootageLost
	s.cameraSeconds += float64(r.Cameras) * r.Simulated.Seconds()
	if s.classes == nil {
		s.classes = map[string]*classPool{}
	}
	for _, c := range r.Classes {
		p := s.classes[c.Class]
		if p == nil {
			p = &classPool{}
			s.classes[c.Class] = p
		}
		p.incidents += c.Incidents
		p.lost += c.Lost
		p.gaps = append(p.gaps, c.Gaps...)
		p.unprotected += c.Unprotected
	}
	s.scarceTime += r.Scarcity.Time.Seconds()
	s.scarceOptimal += r.Scarcity.Optimal.Seconds()
	s.scarceCovered += r.Scarcity.Covered.Seconds()
	if r.Failure != nil {
		s.failedRuns++
	}
}

// AddRuns pools the runs of one world; oracle may be nil (a campaign
// that ran no oracle).
func (c *Comparison) AddRuns(nvrha, baseline Run, oracle *Run) {
	c.Seeds = append(c.Seeds, nvrha.Seed)
	if nvrha.FaultPlan != baseline.FaultPlan || oracle != nil && oracle.FaultPlan != nvrha.FaultPlan {
		c.Unpaired = append(c.Unpaired, nvrha.Seed)
	}
	c.worlds = append(c.worlds, worldLossOf(nvrha, baseline, oracle))
	c.NVRHA.AddRun(nvrha)
	c.Baseline.AddRun(baseline)
	if oracle != nil {
		c.Oracle.AddRun(*oracle)
	}
}
