// Package compare runs the same worlds with nvrha's failover defaults,
// with the baseline (simulator.BaselineFailover: a poll every 0.5 s, a
// server down after 5 s) and with the oracle (Config.Oracle: a center told
// of a failure one acceptable pause after it happened, the floor), and
// sets their measures side by side, with the ratio of baseline to nvrha
// and the avoidable loss: footage lost beyond the oracle's.
//
//	c := compare.New()
//	for seed := range seeds {
//		cfg.Seed = seed
//		nv, base := compare.Pair(cfg)
//		c.Add(run(nv), run(base), run(compare.Oracle(cfg)))
//	}
//	c.WriteText(os.Stdout)
//
// The measures of several seeds are pooled: the percentiles are those of
// every incident of every run, not averages of per-run percentiles.
//
// How sure the footage figures are comes from a paired bootstrap: the
// worlds are resampled with replacement, each world keeping its runs on
// every side together (they faced the same faults), and the central 95%
// of Resamples resampled sums gives the interval of nvrha's footage lost
// over the baseline's and of their difference, for every class of
// incident by first fault (ClassRow.Paired) and in all (Overall, with the
// avoidable loss's ratio). Its random source is seeded from a constant:
// the same worlds give the same intervals.
package compare
