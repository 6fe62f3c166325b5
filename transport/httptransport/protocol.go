package httptransport

import (
	"net/http"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// Version is the protocol version, the second segment of every path. A change
// that an older peer would misread gets a new version; v1 paths, fields and
// codes do not change meaning.
const Version = "v1"

// PathPrefix starts every path the handler serves. Mount the handler there,
// at the root of a server, or behind a prefix with http.StripPrefix: the
// signature covers the protocol path (from PathPrefix on), not the prefix.
const PathPrefix = "/nvrha/" + Version + "/"

// Path returns the path of method m, e.g. "/nvrha/v1/takeover". Every path is
// served with POST only.
func Path(m transport.Method) string { return PathPrefix + string(m) }

// routes lists what the handler serves: one POST path per Transport method.
var routes = []transport.Method{
	transport.MethodProbe,
	transport.MethodInventory,
	transport.MethodTakeover,
	transport.MethodRelease,
	transport.MethodStandDown,
	transport.MethodResume,
}

// routeMethod is the only HTTP method of every route. Probe and Inventory use
// it too: each request carries a single-use nonce, and net/http retries GET
// requests on its own on a fresh connection, which would replay the nonce.
const routeMethod = http.MethodPost

// The request headers. Each is required on every request, and the signature
// covers each of them; see the package documentation.
const (
	// HeaderKeyID names the shared key that signed the request (and, on a
	// response, the key that signed the response).
	HeaderKeyID = "Nvrha-Key-Id"
	// HeaderTimestamp is the time of signing, in whole seconds since the Unix
	// epoch, in decimal.
	HeaderTimestamp = "Nvrha-Timestamp"
	// HeaderNonce is a random value used once: 16 to 64 characters of
	// [A-Za-z0-9_-]; the client sends 16 random bytes in unpadded base64url.
	HeaderNonce = "Nvrha-Nonce"
	// HeaderServer is the ID of the server the request is for,
	// percent-encoded as a URL path segment.
	HeaderServer = "Nvrha-Server"
	// HeaderSignature is the HMAC-SHA256 of the canonical request (or
	// response), in lower-case hexadecimal.
	HeaderSignature = "Nvrha-Signature"
)

// The error codes of an error body, each with its HTTP status.
const (
	// CodeUnauthenticated (401): a header is missing or malformed, the key is
	// unknown, the timestamp is outside the allowed skew or the signature is
	// wrong. The agent was not called.
	CodeUnauthenticated = "unauthenticated"
	// CodeReplayed (401): the nonce was already used within the skew window.
	// The agent was not called for this copy; an earlier copy of the same
	// request may have been carried out, so a client that never reuses
	// nonces treats this answer as "outcome unknown".
	CodeReplayed = "replayed"
	// CodeWrongServer (421): the request names another server than the one
	// this agent is; the agent was not called. Typically an address that now
	// belongs to another server.
	CodeWrongServer = "wrong_server"
	// CodeBadRequest (400): the body is not the JSON object the path takes.
	CodeBadRequest = "bad_request"
	// CodeInvalidOrder (400): the order is malformed (its Validate method
	// failed, or the agent refused it as malformed). Nothing changed.
	CodeInvalidOrder = "invalid_order"
	// CodeStaleEpoch (409): the agent has accepted a newer epoch for the
	// key; the body carries key, got and newest. Nothing changed.
	CodeStaleEpoch = "stale_epoch"
	// CodeStaleTerm (409): the agent has accepted an order of a newer
	// center term; the body carries got_term and newest_term. The order
	// comes from a center that has been replaced. Nothing changed.
	CodeStaleTerm = "stale_term"
	// CodeTooLarge (413): the body is larger than the handler accepts.
	CodeTooLarge = "too_large"
	// CodeNotFound (404): no such path.
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): the path takes POST only.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeAgentError (500): the agent refused the order for a reason of its
	// own, named by the optional reason field. Nothing changed.
	CodeAgentError = "agent_error"
	// CodeUnavailable (503): the agent could not act now (it reported itself
	// unreachable, gave up, or the handler is overloaded); the outcome is
	// unknown.
	CodeUnavailable = "unavailable"
)

// codeStatus is the HTTP status of each error code.
var codeStatus = map[string]int{
	CodeUnauthenticated:  http.StatusUnauthorized,
	CodeReplayed:         http.StatusUnauthorized,
	CodeWrongServer:      http.StatusMisdirectedRequest,
	CodeBadRequest:       http.StatusBadRequest,
	CodeInvalidOrder:     http.StatusBadRequest,
	CodeStaleEpoch:       http.StatusConflict,
	CodeStaleTerm:        http.StatusConflict,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeAgentError:       http.StatusInternalServerError,
	CodeUnavailable:      http.StatusServiceUnavailable,
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message is a human-readable account; for an agent's error, the agent's
	// own message.
	Message string `json:"message"`
	// Reason names the agent's refusal for CodeAgentError when the handler
	// was told its code (see [Reason]); empty otherwise.
	Reason string `json:"reason,omitempty"`
	// Key, Got and Newest are set for CodeStaleEpoch: the recording server
	// the epochs are about, the order's epoch and the newest the agent has
	// accepted for Key.
	Key    nvrha.ServerID `json:"key,omitempty"`
	Got    nvrha.Epoch    `json:"got,omitempty"`
	Newest nvrha.Epoch    `json:"newest,omitempty"`
	// GotTerm and NewestTerm are set for CodeStaleTerm: the order's center
	// term and the newest the agent has accepted.
	GotTerm    uint64 `json:"got_term,omitempty"`
	NewestTerm uint64 `json:"newest_term,omitempty"`
}

// Reason names an agent error that crosses the wire by identity: the handler
// sends Code in the reason field of a CodeAgentError body when the agent's
// error satisfies errors.Is(err, Err), and a client told the same Reason
// returns an error for which errors.Is(err, Err) holds. Codes are 1 to 64
// characters of [a-z0-9_.-]. Errors no Reason names still cross, as text.
type Reason struct {
	Code string
	Err  error
}

// Limits and defaults.
const (
	// DefaultMaxBodyBytes is the largest request body a handler accepts by
	// default: a takeover of several thousand cameras with long IDs.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxBodyReads is how many request bodies a handler reads at
	// once by default (HandlerConfig.MaxBodyReads): with
	// DefaultMaxBodyBytes, at most 16 MiB held by bodies whose signature
	// is not checked yet.
	DefaultMaxBodyReads = 16
	// DefaultBodyReadTimeout bounds reading one request body by default
	// (HandlerConfig.BodyReadTimeout): an order of 1 MiB takes
	// milliseconds on a LAN.
	DefaultBodyReadTimeout = 2 * time.Second
	// DefaultMaxResponseBytes is the largest response a client reads by
	// default: an inventory of the most cameras a server may have.
	DefaultMaxResponseBytes = 16 << 20
	// maxMessageBytes bounds the message of an error body.
	maxMessageBytes = 8 << 10
)

// probeAnswer is the body of a successful probe over HTTP: the agent's
// report and, if the handler also answers probes over UDP (see
// [ListenProbes]), the port to send them to. A center that does not know
// udp_port ignores it, as every v1 client ignores fields it does not know.
type probeAnswer struct {
	transport.ProbeReport
	UDPPort uint16 `json:"udp_port,omitempty"`
}
