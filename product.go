package nvrha

import "strconv"

// Product is the recording software a server runs. QVR Center accepts QVR
// Surveillance (including TVR-AI200), QVR Elite and QVR Pro; a vendor names its
// own products with any other non-empty value and lists them as supported in
// its eligibility rules.
type Product string

// The products QVR Center supports in a Failover Group.
const (
	ProductQVRSurveillance Product = "qvr-surveillance"
	ProductQVRElite        Product = "qvr-elite"
	ProductQVRPro          Product = "qvr-pro"
)

// QVRProducts returns the products QVR Center supports in a Failover Group, in
// a fixed order. The slice is new on every call.
func QVRProducts() []Product {
	return []Product{ProductQVRSurveillance, ProductQVRElite, ProductQVRPro}
}

// String returns the product's display name for the QVR products and the raw
// value for a vendor's own.
func (p Product) String() string {
	switch p {
	case ProductQVRSurveillance:
		return "QVR Surveillance"
	case ProductQVRElite:
		return "QVR Elite"
	case ProductQVRPro:
		return "QVR Pro"
	}
	return string(p)
}

// Platform is the CPU platform of the center that manages the groups. It sets
// how many servers a Failover Group may hold.
type Platform uint8

// The center platforms. The zero value is x86_64, the common case.
const (
	PlatformX86_64 Platform = iota
	PlatformARM64
)

// String returns "x86_64" or "ARM64".
func (p Platform) String() string {
	switch p {
	case PlatformX86_64:
		return "x86_64"
	case PlatformARM64:
		return "ARM64"
	}
	return "Platform(" + strconv.Itoa(int(p)) + ")"
}

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool { return p == PlatformX86_64 || p == PlatformARM64 }

// Health is what the center currently believes about a server.
type Health uint8

// The health values. The zero value, HealthUnknown, is a server not yet
// probed; it is treated as not functional until a probe says otherwise.
const (
	HealthUnknown Health = iota
	HealthUp
	HealthDown
)

// String returns "unknown", "up" or "down".
func (h Health) String() string {
	switch h {
	case HealthUnknown:
		return "unknown"
	case HealthUp:
		return "up"
	case HealthDown:
		return "down"
	}
	return "Health(" + strconv.Itoa(int(h)) + ")"
}

// Functional reports whether h says the server works.
func (h Health) Functional() bool { return h == HealthUp }

// Epoch is a fencing token. Each takeover of a recording server gets a new,
// larger epoch, also across center restarts; a server rejects any command that
// carries an epoch older than the newest it has seen, so a stale center or a
// delayed message can never make two servers record the same cameras.
type Epoch uint64
