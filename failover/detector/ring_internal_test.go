package detector

import (
	"slices"
	"testing"
	"time"
)

// TestRingWindowDropsOldSamples: once the window is full each new sample
// evicts the oldest one, and the statistics are those of the window alone.
func TestRingWindowDropsOldSamples(t *testing.T) {
	c := DefaultConfig()
	c.Window = 3
	c.AcceptablePause = 10 * time.Second // every interval below is accepted
	d, err := NewPhiAccrual(c)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.Observe(now, true)
	var window []uint32
	for i, ms := range []int{100, 200, 300, 400, 500, 600, 700} {
		now = now.Add(time.Duration(ms) * time.Millisecond)
		d.Observe(now, true)
		window = append(window, uint32(ms*1000))
		if len(window) > c.Window {
			window = window[1:]
		}
		var got []uint32
		for j := range d.n {
			got = append(got, d.ring[(d.head+j)%len(d.ring)])
		}
		if !slices.Equal(got, window) {
			t.Fatalf("after sample %d the window holds %v, want %v", i, got, window)
		}
		var sum uint64
		for _, x := range window {
			sum += uint64(x)
		}
		mean := float64(sum) / float64(len(window)) * 1e3
		if want := mean + float64(c.AcceptablePause); d.shiftedMean != want {
			t.Fatalf("after sample %d the shifted mean is %v, want %v", i, d.shiftedMean, want)
		}
	}
	if len(d.ring) != c.Window || cap(d.ring) != c.Window {
		t.Fatalf("ring grew to len %d cap %d", len(d.ring), cap(d.ring))
	}
}

// TestSampleResolution: samples are whole microseconds, capped near 71
// minutes.
func TestSampleResolution(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want uint32
	}{
		{999 * time.Nanosecond, 0},
		{200*time.Millisecond + 999, 200_000},
		{71 * time.Minute, 4_260_000_000},
		{72 * time.Minute, 1<<32 - 1},
		{1<<63 - 1, 1<<32 - 1},
	} {
		if got := sample(tc.in); got != tc.want {
			t.Errorf("sample(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestExactSumsAtTheCap: the 128-bit sum of squares stays exact with a full
// window of the largest samples, where 64 bits would overflow.
func TestExactSumsAtTheCap(t *testing.T) {
	c := DefaultConfig()
	c.Window = MaxWindow
	d := newPhiAccrual(c)
	for range 3 * MaxWindow {
		d.push(maxSample)
	}
	d.push(0)
	// 999 samples of maxSample and one 0: variance = 999/1000^2 * maxSample^2.
	want := (1e3 * 999 / 1000) * float64(maxSample)
	if got := d.shiftedMean - float64(c.AcceptablePause); got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
	wantStd := 1e3 * float64(maxSample) * 0.031606961258558215 // sqrt(999)/1000
	if got := d.floorStdDev; got < wantStd*(1-1e-12) || got > wantStd*(1+1e-12) {
		t.Errorf("std = %v, want %v", got, wantStd)
	}
}
