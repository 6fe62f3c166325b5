package history

import "time"

// Defaults of NetConfig.
const (
	DefaultLatency = time.Millisecond
	DefaultJitter  = 2 * time.Millisecond
)

// NetConfig is the network between the center and each server. Every
// message is delayed by Latency plus a uniform draw in [0, Jitter], lost with
// probability Loss and duplicated with probability Duplicate (the copy is
// delayed independently). Jitter reorders messages. The zero value is a
// quiet LAN: 1 ms latency, 0-2 ms jitter, no loss, no duplication.
type NetConfig struct {
	Latency   time.Duration
	Jitter    time.Duration
	Loss      float64
	Duplicate float64
	// Quiet, when set, keeps zero Latency and Jitter at zero instead of
	// taking the defaults.
	Quiet bool
}

// QuietLAN returns the default network: 1 ms latency, 0-2 ms jitter, no
// loss.
func QuietLAN() NetConfig { return NetConfig{Latency: DefaultLatency, Jitter: DefaultJitter} }

// NoisyLAN returns the standard noisy network of the performance work: 1 ms
// latency, 0-100 ms jitter, 1% loss, 0.1% duplication.
func NoisyLAN() NetConfig {
	return NetConfig{Latency: time.Millisecond, Jitter: 100 * time.Millisecond, Loss: 0.01, Duplicate: 0.001}
}

// WithDefaults returns n with a zero Latency and Jitter set to the
// defaults, unless Quiet is set.
func (n NetConfig) WithDefaults() NetConfig {
	if n.Quiet {
		return n
	}
	if n.Latency == 0 {
		n.Latency = DefaultLatency
	}
	if n.Jitter == 0 {
		n.Jitter = DefaultJitter
	}
	return n
}
