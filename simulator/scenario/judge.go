package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/simulator/report"
)

// judges judge the expectations at the end of a run, by kind, on its
// report and the statuses the Machine shows at the end.
var judges = map[string]func(args []string, r *report.Report, status func(nvrha.ServerID) string) (bool, string){
	"takeover":           judgeTakeover,
	"no-takeover":        judgeNoTakeover,
	"recovery":           judgeRecovery,
	"fault":              judgeFault,
	"refused":            judgeRefused,
	"max-gap":            judgeMaxGap,
	"status":             judgeStatus,
	"no-false-takeover":  judgeNoFalseTakeover,
	"settled":            judgeSettled,
	"orphan":             judgeOrphan,
	"max-flaps":          judgeMaxFlaps,
	"known-issue":        judgeKnownIssue,
	"elections":          judgeElections,
	"stale-term-refused": judgeStaleTermRefused,
	"max-resume":         judgeMaxResume,
}

// Judge tells whether the expectation held in the run r reports, status
// giving the Failover Status the Machine shows for a server at the end,
// and why.
func (e Expect) Judge(r *report.Report, status func(nvrha.ServerID) string) (ok bool, detail string) {
	j := judges[e.Kind]
	if j == nil {
		return false, "unknown expectation"
	}
	return j(e.Args, r, status)
}

// judgeTakeover: a confirmed takeover of the recording server (by the
// standby, when named).
func judgeTakeover(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	n := 0
	for _, t := range r.TakeoverSpans {
		if string(t.Recording) == args[0] && t.Confirmed >= 0 && (len(args) < 3 || string(t.Standby) == args[2]) {
			n++
		}
	}
	return n > 0, fmt.Sprintf("%d confirmed takeovers", n)
}

// judgeNoTakeover: no takeover of the recording server even started.
func judgeNoTakeover(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	started := 0
	for _, t := range r.TakeoverSpans {
		if string(t.Recording) == args[0] {
			started++
		}
	}
	return started == 0, fmt.Sprintf("%d takeovers started", started)
}

func judgeRecovery(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	n := r.Recoveries[history.Recovery(args[0])]
	return n > 0, fmt.Sprintf("%d times", n)
}

func judgeFault(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	n := r.Faults[history.FaultKind(args[0])]
	return n > 0, fmt.Sprintf("%d times", n)
}

func judgeRefused(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	ok, detail := false, "it was never refused"
	for _, rf := range r.Refused {
		if string(rf.Server) == args[0] {
			ok, detail = true, strings.Join(rf.Reasons, "; ")
		}
	}
	return ok, detail
}

func judgeMaxGap(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	limit, _ := time.ParseDuration(args[0])
	return r.Gaps.Max <= limit, fmt.Sprintf("max gap %.3fs", r.Gaps.Max.Seconds())
}

func judgeStatus(args []string, _ *report.Report, status func(nvrha.ServerID) string) (bool, string) {
	label, _ := unquote(args[1])
	got := status(nvrha.ServerID(args[0]))
	return got == label, fmt.Sprintf("status %q", got)
}

func judgeNoFalseTakeover(_ []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	return r.FalseTakeovers == 0, fmt.Sprintf("%d false takeovers", r.FalseTakeovers)
}

func judgeSettled(_ []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	return r.Settled, "settled=" + strconv.FormatBool(r.Settled)
}

func judgeOrphan(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	ok := false
	for _, id := range r.Orphans {
		ok = ok || string(id) == args[0]
	}
	return ok, "orphan=" + strconv.FormatBool(ok)
}

func judgeMaxFlaps(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	n, _ := strconv.Atoi(args[0])
	return r.Flaps <= n, fmt.Sprintf("%d flaps", r.Flaps)
}

func judgeKnownIssue(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	for _, k := range r.KnownIssues {
		if k.ID == args[0] {
			return true, k.Detail
		}
	}
	return false, "it did not happen"
}

// judgeElections: exactly n terms granted (several centers).
func judgeElections(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	n, _ := strconv.Atoi(args[0])
	got := 0
	if r.Centers != nil {
		got = r.Centers.Elections
	}
	return got == n, fmt.Sprintf("%d elections", got)
}

// judgeStaleTermRefused: an agent refused at least one order for a stale
// center term.
func judgeStaleTermRefused(_ []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	got := 0
	if r.Centers != nil {
		got = r.Centers.StaleTermRefused
	}
	return got > 0, fmt.Sprintf("%d orders refused for a stale term", got)
}

// judgeMaxResume: protection resumed within the limit after every leader
// crash, and after one at least.
func judgeMaxResume(args []string, r *report.Report, _ func(nvrha.ServerID) string) (bool, string) {
	limit, _ := time.ParseDuration(args[0])
	c := r.Centers
	if c == nil || c.Resume.N+c.ResumeCompound.N == 0 {
		return false, "no leader crashed"
	}
	worst := max(c.Resume.Max, c.ResumeCompound.Max)
	return worst <= limit, fmt.Sprintf("%d leader crashes, protection resumed after %.3fs at most", c.Resume.N+c.ResumeCompound.N, worst.Seconds())
}
