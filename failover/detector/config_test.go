package detector_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover/detector"
)

func TestDefaultConfig(t *testing.T) {
	want := detector.Config{
		Kind:            detector.KindPhiAccrual,
		ProbeInterval:   200 * time.Millisecond,
		SuspectInterval: 50 * time.Millisecond,
		AcceptablePause: time.Second,
		Threshold:       4,
		MinStdDev:       50 * time.Millisecond,
		Window:          100,
		Misses:          3,
	}
	if got := detector.DefaultConfig(); got != want {
		t.Errorf("DefaultConfig() = %+v, want %+v", got, want)
	}
	if got := (detector.Config{}).WithDefaults(); got != want {
		t.Errorf("Config{}.WithDefaults() = %+v, want %+v", got, want)
	}
	custom := detector.Config{Kind: detector.KindConsecutiveMiss, Misses: 5, Threshold: 3}
	got := custom.WithDefaults()
	if got.Kind != detector.KindConsecutiveMiss || got.Misses != 5 || got.Threshold != 3 || got.Window != 100 {
		t.Errorf("WithDefaults overwrote set fields: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    detector.Config
		bad  []string // substrings expected in the error; none means valid
	}{
		{"zero", detector.Config{}, nil},
		{"defaults", detector.DefaultConfig(), nil},
		{"max window", detector.Config{Window: detector.MaxWindow}, nil},
		{"consecutive", detector.Config{Kind: detector.KindConsecutiveMiss, Misses: 1}, nil},
		{"negative probe", detector.Config{ProbeInterval: -1}, []string{"ProbeInterval"}},
		{"negative pause", detector.Config{AcceptablePause: -time.Second}, []string{"AcceptablePause"}},
		{"negative std", detector.Config{MinStdDev: -1}, []string{"MinStdDev"}},
		{"negative threshold", detector.Config{Threshold: -1}, []string{"Threshold"}},
		{"NaN threshold", detector.Config{Threshold: math.NaN()}, []string{"Threshold"}},
		{"infinite threshold", detector.Config{Threshold: math.Inf(1)}, []string{"Threshold"}},
		{"window too big", detector.Config{Window: detector.MaxWindow + 1}, []string{"Window"}},
		{"negative window", detector.Config{Window: -1}, []string{"Window"}},
		{"negative misses", detector.Config{Misses: -1}, []string{"Misses"}},
		{"unknown kind", detector.Config{Kind: 2}, []string{"Kind"}},
		{"several", detector.Config{Kind: 9, Window: 5000, Misses: -3}, []string{"Kind", "Window", "Misses"}},
	} {
		err := tc.c.Validate()
		if len(tc.bad) == 0 {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, detector.ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want an ErrInvalidConfig", tc.name, err)
			continue
		}
		for _, s := range tc.bad {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: Validate() = %q, does not mention %s", tc.name, err, s)
			}
		}
		if _, err := detector.New(tc.c); !errors.Is(err, detector.ErrInvalidConfig) {
			t.Errorf("%s: New error = %v, want an ErrInvalidConfig", tc.name, err)
		}
		if _, err := detector.NewPhiAccrual(tc.c); !errors.Is(err, detector.ErrInvalidConfig) {
			t.Errorf("%s: NewPhiAccrual error = %v, want an ErrInvalidConfig", tc.name, err)
		}
		if _, err := detector.NewConsecutiveMiss(tc.c); !errors.Is(err, detector.ErrInvalidConfig) {
			t.Errorf("%s: NewConsecutiveMiss error = %v, want an ErrInvalidConfig", tc.name, err)
		}
	}
}

func TestNewKinds(t *testing.T) {
	d, err := detector.New(detector.Config{})
	if _, ok := d.(*detector.PhiAccrual); err != nil || !ok {
		t.Errorf("New(Config{}) = %T, %v; want a *PhiAccrual", d, err)
	}
	d, err = detector.New(detector.Config{Kind: detector.KindConsecutiveMiss})
	if _, ok := d.(*detector.ConsecutiveMiss); err != nil || !ok {
		t.Errorf("New(consecutive-miss) = %T, %v; want a *ConsecutiveMiss", d, err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[detector.Kind]string{
		detector.KindPhiAccrual:      "phi-accrual",
		detector.KindConsecutiveMiss: "consecutive-miss",
		7:                            "Kind(7)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}
