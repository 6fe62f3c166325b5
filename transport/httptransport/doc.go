// Package httptransport carries the center/server contract of package
// transport over HTTP/JSON: [Client] is a [transport.Transport] for the
// center, and [NewHandler] returns the http.Handler a server mounts to serve
// its [transport.Agent]. docs/openapi.yaml in the repository describes the
// same protocol for vendors who do not write Go; a test keeps the two in step.
// docs/agent-protocol.md gives its exact bytes: the canonical strings, the
// UDP probe datagrams as tables of offsets, and test vectors (a fixed key,
// requests, responses and datagrams with their signatures) that
// TestAgentProtocolVectors makes with this package's code, so the document
// cannot drift from it. cmd/nvragentcheck checks a live agent.
//
// # Protocol (version 1)
//
// Every call is a POST to a fixed path, one per Transport method (probes
// may also go over UDP; see "Probes over UDP"):
//
//	POST /nvrha/v1/probe       no body             200 ProbeReport (+ udp_port)
//	POST /nvrha/v1/inventory   no body             200 Facts
//	POST /nvrha/v1/takeover    TakeoverOrder       204
//	POST /nvrha/v1/release     ReleaseOrder        204
//	POST /nvrha/v1/stand-down  StandDownOrder      204
//	POST /nvrha/v1/resume      ResumeOrder         204
//
// Bodies are JSON with the field names of the transport types' json tags
// (TakeoverOrder is {"recording": "rec-1", "epoch": 7, "cameras": ["cam-1"]}).
// Epochs are unsigned 64-bit integers; a reader in a language whose numbers
// are doubles must parse them as 64-bit integers. So are center terms: every
// order may carry "term", the sender's center term, and carries it whenever
// it is not 0 (a center that runs no election sends none, so its orders are
// those of agents that predate terms; such an agent refuses an order with a
// term as bad_request, which is right: it could not fence it). The handler decodes an
// order more strictly than encoding/json, so that a signed order means one
// thing to every reader: it refuses (CodeBadRequest) a key that is not
// exactly a field's name (keys are case-sensitive), a key given twice, a
// field it does not know, bytes that are not UTF-8 or an escape that is half
// a surrogate pair (which encoding/json would turn into U+FFFD), nesting
// deeper than 32, and anything after the JSON object. It validates every
// order with its Validate method before the agent sees it
// (CodeInvalidOrder); the client validates too, before sending. Responses may gain fields within v1, which a client ignores. Probe
// and Inventory use POST as well: every request carries a single-use nonce,
// and net/http and proxies may resend a GET by themselves.
//
// Every error is a JSON [ErrorBody] with a stable code:
//
//	401 unauthenticated     a header is missing or wrong, or the clocks are too far apart
//	401 replayed            the nonce was already used
//	421 wrong_server        the request is for another server ID
//	400 bad_request         the body is not the JSON the path takes
//	400 invalid_order       the order is malformed
//	409 stale_epoch         the agent accepted a newer epoch; key, got and newest say which
//	409 stale_term          the agent accepted a newer center term; got_term and newest_term say which
//	413 too_large           the body is larger than the handler accepts
//	404 not_found, 405 method_not_allowed
//	500 agent_error         the agent refused for a reason of its own (optional reason code)
//	503 unavailable         the agent could not act; the outcome is unknown
//
// On the client these become the errors a center acts on (see [RemoteError]):
// stale_epoch a [*transport.StaleEpochError] with the agent's Key, Got and
// Newest; stale_term a [*transport.StaleTermError]; invalid_order an error wrapping [transport.ErrInvalidOrder];
// unavailable, replayed and wrong_server errors wrapping
// [transport.ErrUnreachable]; unauthenticated one wrapping
// [ErrUnauthenticated]; agent_error a definite refusal that wraps the error a
// [Reason] names, if any, and always keeps the agent's message. A response
// that is not an error of this protocol (a proxy's page, a garbled body) and
// a call whose answer never arrives fail with an error wrapping
// [transport.ErrUnreachable]: the order may or may not have been carried out.
// When the caller's context ends during a call, the error wraps both
// transport.ErrUnreachable and the context's error (context.DeadlineExceeded
// or context.Canceled); when it has ended before the call, only the context's
// error, and nothing is sent. A call whose context has no deadline gets
// [ClientConfig.Timeout].
//
// # Authentication
//
// Every request is signed with a shared secret. The client sends five
// headers: [HeaderKeyID] (which key), [HeaderTimestamp] (Unix seconds),
// [HeaderNonce] (16 random bytes, base64url), [HeaderServer] (the server ID
// the request is for, percent-encoded) and [HeaderSignature], the lower-case
// hex HMAC-SHA256, under the key's secret, of these lines joined by "\n":
//
//	NVRHA1-HMAC-SHA256
//	POST
//	/nvrha/v1/takeover                      (the protocol path, whatever prefix is in front)
//	rec-1                                   (Nvrha-Server, as sent)
//	center-2026                             (Nvrha-Key-Id)
//	1767254400                              (Nvrha-Timestamp)
//	q1w2e3r4t5y6u7i8o9p0aA                  (Nvrha-Nonce)
//	<hex SHA-256 of the body; of no bytes for an empty body>
//
// The handler refuses with 401, without calling the agent, a request with a
// missing or malformed header, an unknown key, a timestamp more than
// [Auth.MaxSkew] (default 30 s) from its own clock either way or from before
// the handler started, a wrong signature, or a nonce it has already accepted
// within that window. It remembers nonces only while their timestamp is
// inside the window, so memory is bounded by the request rate;
// [HandlerConfig.MaxNonces] caps it outright (beyond it requests get 503
// until old nonces expire). A request for another server ID than
// [HandlerConfig.Server] gets 421: this stops both a center with an outdated
// address book and a captured request replayed to another server that
// shares the key.
//
// Nonces live in memory only, so a restarted agent does not know those its
// previous run accepted. Rather than keep them on disk, the handler refuses
// any request or probe datagram signed before the second it started in
// (NewHandler reads its clock): whatever an earlier run accepted was signed
// before that, unless the agent restarted within the same second, quicker
// than a real agent restarts. Persisting nonces would cost a write per request,
// probes included, to protect the same thing. The cost: for [Auth.MaxSkew]
// after an agent starts, a center whose clock lags the agent's by d is
// refused (401) for d; keep clocks in step with NTP, as the skew window
// assumes anyway. Orders are fenced by their epochs and terms besides, which the
// agent keeps across restarts.
//
// The signature covers the body, so a request's body must be read before
// it can be authenticated. Everything else is checked first: the headers'
// form (the signature's too), the key, the timestamp, that the nonce is not
// one already accepted, and the body's declared size
// ([HandlerConfig.MaxBodyBytes], default 1 MiB, else 413). Probes and
// inventories take no body (413 if they have one) and are authenticated
// without reading anything more. See "Limits" for how the memory that bodies
// not yet authenticated can hold is bounded.
//
// Keys are named, so that they can be rotated without downtime: a handler
// accepts every key in [Auth.Keys], a client signs with the first. See
// [Auth].
//
// # Signed responses
//
// The handler signs every response to a request whose signature it verified,
// with the same key: it sets [HeaderKeyID] and [HeaderSignature], the hex
// HMAC-SHA256 of
//
//	NVRHA1-HMAC-SHA256-RESPONSE
//	<status code, decimal>
//	<request path>
//	<request Nvrha-Server>
//	<key ID>
//	<request Nvrha-Nonce>
//	<hex SHA-256 of the response body>
//
// which binds the answer to its request. A client with
// [ClientConfig.VerifyResponses] refuses any response, success or error,
// whose signature is missing or wrong, as unreachable
// ([ErrResponseNotAuthentic]). Verification is optional because TLS already
// protects the answer on the way back; turn it on where the path between
// center and servers is not TLS or passes through something that terminates
// it.
//
// # Probes over UDP
//
// Probes are most of a center's traffic: every server, five times a second
// by default. Besides the HTTP path, an agent may answer them over a light
// channel, one UDP datagram each way, as SWIM and memberlist do: on
// loopback it costs the center under half the CPU of an HTTP probe with
// net/http (about 20 against 55 µs at 1,024 agents).
// An agent serves it with one more line, [ListenProbes], on the port its
// HTTP server listens on; every HTTP probe answer then carries that port
// in the field udp_port. A [Client] (unless [ClientConfig.DisableUDPProbes])
// probes such a server over HTTP once, learns the port, and from then on
// sends its probes there, to the host of the server's base URL. Every other
// call stays on HTTP, and an agent without the channel is probed over HTTP
// as before.
//
// HTTP stays the authority: a probe whose answer does not come over UDP
// within its wait ([ClientConfig.UDPProbeWait]: by default four times the
// server's smoothed round trip, 20 to 100 ms, and never more than half of
// the call's remaining time) is made again over HTTP within the caller's
// deadline. After the second such miss in a row (or the first, for a
// server that has never answered over UDP) the server is probed over HTTP
// alone for 5 s, doubling with each further miss up to 5 minutes; an
// answer over UDP, even a late one, ends that. So a firewall that drops the
// datagrams costs the center some CPU, never a failed probe; a probe fails
// (with an error wrapping [transport.ErrUnreachable]) only when HTTP fails
// too.
//
// Both datagrams are signed with HMAC-SHA256 under the keys of [Auth]
// (docs/agent-protocol.md has them as tables of offsets, with a datagram
// of each kind in hex). The request:
//
//	"NVU1"          4 bytes, magic: protocol and version
//	0x01            1 byte, kind: probe request
//	key ID          1 byte length, then the Nvrha-Key-Id of HTTP
//	server ID       1 byte length, then the server's ID (UTF-8, not escaped)
//	timestamp       8 bytes, Unix seconds, big-endian
//	nonce           16 random bytes
//	wait            4 bytes, milliseconds the center waits, big-endian
//	MAC             32 bytes, HMAC-SHA256 of every byte before it
//
// The agent drops, without an answer and without calling the agent, a
// datagram that is malformed, names an unknown key, has a wrong MAC, a
// timestamp more than [Auth.MaxSkew] from its clock, another server's ID,
// or a nonce it has accepted (over either channel) within the window; it
// counts why, for the log (see "Limits"). Answering only fresh, authentic
// requests means the channel can be used neither to forge nor to reflect
// traffic; the center, hearing nothing, asks over HTTP, whose answer says
// what is wrong. The agent has at most [MaxProbeWait] (and the request's
// wait) to report; the answer:
//
//	"NVU1"          4 bytes, magic
//	0x02            1 byte, kind: probe answer
//	key ID          1 byte length, then the request's key ID
//	server ID       1 byte length, then the request's server ID
//	nonce           16 bytes, the request's nonce
//	status          2 bytes, big-endian: 200, an error's HTTP status, or 0
//	body length     2 bytes, big-endian
//	body            for 200 a report (below); for an error the JSON
//	                ErrorBody HTTP would carry (message at most 512 bytes);
//	                for 0 nothing: ask over HTTP (the report does not fit)
//	MAC             32 bytes, HMAC-SHA256 of every byte before it, under
//	                the key that signed the request
//
// and the report:
//
//	flags           1 byte: 0x01 healthy, 0x02 recording,
//	                0x04 has_empty_recording_space; other bits zero
//	epoch           8 bytes, big-endian
//	server          1 byte length, then ProbeReport.Server (UTF-8)
//	covering        1 byte length, then ProbeReport.Covering (UTF-8)
//
// The client accepts an answer only for a probe it is waiting for (by
// nonce), signed with that probe's key for that server; anything else is
// dropped. Unlike HTTP answers, which a client checks only with
// [ClientConfig.VerifyResponses], every answer over UDP is checked. The
// datagrams are not encrypted: a probe report (health, epoch, which server
// a standby covers) travels in clear, authenticated. A center that wants
// even that inside TLS sets DisableUDPProbes.
//
// # TLS and mutual TLS
//
// The signature authenticates the center to the agent but does not hide
// anything: run the protocol over HTTPS wherever the network is not private.
// On the server, serve the handler from an http.Server with a TLSConfig (see
// [NewServer]); for mutual TLS set its ClientAuth to
// tls.RequireAndVerifyClientCert and its ClientCAs to the CA that issued the
// center's certificate. On the center, give [ClientConfig.TLSConfig] the
// agents' CA as RootCAs and, for mutual TLS, the center's certificate in
// Certificates (or pass a fully configured [ClientConfig.HTTPClient]). The
// HMAC stays required with mutual TLS: it is what binds each order to a time,
// a nonce and a server ID. TestMutualTLS in this package is a working
// example.
//
// # Connection pool
//
// A Client sends its requests with net/http, through [NewHTTPTransport]'s
// pool unless given [ClientConfig.HTTPClient]: dial within 5 s (with
// [ClientConfig.DialContext] if set), TCP keep-alive every 30 s, at most 32
// connections per server, with no overall cap, so that each of 1,024
// servers keeps its connection between probes; idle connections are closed
// after 90 s; and it never sends a request twice nor follows a redirect.
//
// # Servers and timeouts
//
// A slow client must not hold a connection: serve the handler from
// [NewServer], or copy its timeouts (ReadHeaderTimeout, ReadTimeout,
// WriteTimeout, IdleTimeout, MaxHeaderBytes) into your own http.Server, and
// serve it through [LimitListener] (see "Limits"). The
// handler passes the request's context to the agent, so an agent that
// honours its context stops working on an order whose center has given up.
// Close a [ProbeListener] when its HTTP server stops, or the agent keeps
// answering probes while its orders cannot reach it.
// The client keeps connections alive in a pool ([NewHTTPTransport]) and
// never follows redirects.
//
// # Limits
//
// An agent must survive a peer that is broken or hostile: anyone who can
// reach its port and knows what every answer shows (the key ID, the server
// ID, the time) but not the secret. What such a peer can make the agent
// hold, and the defaults:
//
//	connections        ServerMaxConns (256) at once, with LimitListener; more wait in the kernel's queue
//	request headers    ServerMaxHeaderBytes (16 KiB, request line included; 431 beyond),
//	                   within ServerReadHeaderTimeout (5 s)
//	bodies being read  HandlerConfig.MaxBodyReads (16) at once, each of at most MaxBodyBytes
//	                   (1 MiB) within BodyReadTimeout (2 s); a request that finds none free
//	                   waits up to BodyReadTimeout, then gets 503. At most 16 MiB in all.
//	nonces             HandlerConfig.MaxNonces (65,536), each for Auth.MaxSkew (30 s)
//	probes over UDP    64 at the agent at once (MaxProbeWait, 10 s, each); beyond, dropped
//	log                one line per RefusalLogInterval (10 s) for all the requests refused
//	                   before authentication, one for all the datagrams refused, with
//	                   counts by code
//
// A request refused before it is authenticated gets "Connection: close" and
// loses its connection, whatever of its body it has not sent, so that such
// a client can hold a connection only as long as its headers and body take
// (bounded above). Probes need no body read: an agent whose bodies and
// connections are all taken still answers probes, over UDP and over the
// connections a center already holds. TestHostileLoad holds an agent to
// this with 2,000 slow connections and a flood of forged datagrams; see
// docs/performance.md for the figures and the command.
package httptransport
