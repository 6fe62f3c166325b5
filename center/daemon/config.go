package daemon

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// fileConfig is the TOML configuration file; docs/nvrcenter.md describes
// every key and docs/nvrcenter.example.toml shows them.
type fileConfig struct {
	Listen   string         `toml:"listen"`
	Store    string         `toml:"store"`
	Platform platform       `toml:"platform"`
	Log      logConfig      `toml:"log"`
	TLS      serveTLS       `toml:"tls"`
	Failback failbackConfig `toml:"failback"`
	Detector detectorConfig `toml:"detector"`
	Admins   []adminConfig  `toml:"admin"`
	Agents   []agentConfig  `toml:"agent"`
	Etcd     etcdConfig     `toml:"etcd"`

	dir   string     // the file's directory: relative paths are relative to it
	file  string     // the file's path, for errors found after parsing
	lines lineFinder // where its tables and keys are
}

type logConfig struct {
	Format logFormat `toml:"format"`
	Level  logLevel  `toml:"level"`
}

type serveTLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

type failbackConfig struct {
	Mode        failbackMode `toml:"mode"`
	HoldDown    duration     `toml:"hold_down"`
	FlapWindow  duration     `toml:"flap_window"`
	MaxHoldDown duration     `toml:"max_hold_down"`
	Window      window       `toml:"window"`
}

type detectorConfig struct {
	Kind            detectorKind `toml:"kind"`
	ProbeInterval   duration     `toml:"probe_interval"`
	ProbeTimeout    duration     `toml:"probe_timeout"`
	AcceptablePause duration     `toml:"acceptable_pause"`
	Threshold       float64      `toml:"threshold"`
	Misses          int          `toml:"misses"`
}

type adminConfig struct {
	User   string `toml:"user"`
	Bcrypt string `toml:"bcrypt"`
}

type agentConfig struct {
	ID  string `toml:"id"`
	URL string `toml:"url"`
	// KeyID and SecretFile name the HMAC key the agent shares with the
	// center; the file holds the secret as text, such as 64 hex digits
	// (at least 32 bytes; a trailing newline is ignored, so a secret of
	// raw random bytes does not fit in it).
	KeyID      string `toml:"key_id"`
	SecretFile string `toml:"secret_file"`
	// CA verifies an https agent's certificate; Cert and Key are the
	// center's client certificate where the agent asks for mutual TLS.
	CA              string `toml:"ca"`
	Cert            string `toml:"cert"`
	Key             string `toml:"key"`
	VerifyResponses bool   `toml:"verify_responses"`
}

// The value types below check themselves while the file is decoded, so
// that the toml package names the line of a bad value.

type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as 30s or 1m30s: %w", err)
	}
	if v < 0 {
		return fmt.Errorf("duration %s is negative", b)
	}
	*d = duration(v)
	return nil
}

type platform nvrha.Platform

func (p *platform) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "x86_64", "amd64":
		*p = platform(nvrha.PlatformX86_64)
	case "arm64":
		*p = platform(nvrha.PlatformARM64)
	default:
		return fmt.Errorf("platform %q: want x86_64 or arm64", b)
	}
	return nil
}

type logFormat string

func (f *logFormat) UnmarshalText(b []byte) error {
	switch string(b) {
	case "text", "json":
		*f = logFormat(b)
		return nil
	}
	return fmt.Errorf("log format %q: want text or json", b)
}

type logLevel slog.Level

func (l *logLevel) UnmarshalText(b []byte) error {
	var v slog.Level
	if err := v.UnmarshalText(b); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", b)
	}
	*l = logLevel(v)
	return nil
}

type failbackMode failover.FailbackMode

func (m *failbackMode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "automatic":
		*m = failbackMode(failover.FailbackAutomatic)
	case "manual":
		*m = failbackMode(failover.FailbackManual)
	case "scheduled":
		*m = failbackMode(failover.FailbackScheduled)
	default:
		return fmt.Errorf("failback mode %q: want automatic, manual or scheduled", b)
	}
	return nil
}

type detectorKind detector.Kind

func (k *detectorKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "phi-accrual":
		*k = detectorKind(detector.KindPhiAccrual)
	case "consecutive-miss":
		*k = detectorKind(detector.KindConsecutiveMiss)
	default:
		return fmt.Errorf("detector kind %q: want phi-accrual or consecutive-miss", b)
	}
	return nil
}

// window is a daily failback window, "HH:MM-HH:MM" in the center's local
// time.
type window struct {
	set        bool
	start, end time.Duration
}

var windowRE = regexp.MustCompile(`^(\d\d):(\d\d)-(\d\d):(\d\d)$`)

func (w *window) UnmarshalText(b []byte) error {
	m := windowRE.FindStringSubmatch(string(b))
	if m == nil {
		return fmt.Errorf("window %q: want HH:MM-HH:MM, such as 01:00-05:00", b)
	}
	var n [4]int
	for i := range n {
		fmt.Sscan(m[i+1], &n[i])
	}
	if n[0] > 23 || n[2] > 23 || n[1] > 59 || n[3] > 59 {
		return fmt.Errorf("window %q: not a time of day", b)
	}
	*w = window{set: true,
		start: time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute,
		end:   time.Duration(n[2])*time.Hour + time.Duration(n[3])*time.Minute}
	return nil
}

// configError is an error in the configuration file, with the line it is
// on when known.
type configError struct {
	file string
	line int
	msg  string
	err  error // the cause, for errors.Is (fs.ErrNotExist, say)
}

func (e *configError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

func (e *configError) Unwrap() error { return e.err }

// fileError is an error about a file the configuration names (a key, a
// certificate), found when the center reads it: it names the line of the
// key that names the file. The key is looked up in the n-th [table] or
// [[table]] of the file.
func (c *fileConfig) fileError(table string, n int, key string, err error) error {
	return &configError{file: c.file, line: c.lines.keyIn(table, n, key), msg: err.Error(), err: err}
}

// loadConfig reads and checks a configuration file.
func loadConfig(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, data)
}

func parseConfig(path string, data []byte) (*fileConfig, error) {
	var c fileConfig
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &configError{file: path, line: pe.Position.Line, msg: pe.Message}
		}
		return nil, &configError{file: path, msg: err.Error()}
	}
	lines := newLineFinder(data)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &configError{file: path, line: lines.key(k), msg: fmt.Sprintf("unknown key %q", k.String())}
	}
	c.dir, c.file, c.lines = filepath.Dir(path), path, lines
	bad := func(line int, format string, args ...any) error {
		return &configError{file: path, line: line, msg: fmt.Sprintf(format, args...)}
	}
	if c.Store == "" {
		return nil, bad(0, "store: the path of the state file, or \"etcd\", is required")
	}
	if err := c.checkEtcd(lines, bad); err != nil {
		return nil, err
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return nil, bad(lines.table("tls", 0), "tls: give both cert and key, or neither")
	}
	if len(c.Admins) == 0 {
		return nil, bad(0, "no [[admin]]: at least one admin user is required; the first is the first admin user")
	}
	users := map[string]bool{}
	for i, a := range c.Admins {
		line := lines.table("admin", i)
		switch {
		case a.User == "":
			return nil, bad(line, "[[admin]] %d: user is required", i+1)
		case users[a.User]:
			return nil, bad(line, "[[admin]] %d: user %q listed twice", i+1, a.User)
		case !strings.HasPrefix(a.Bcrypt, "$2"):
			return nil, bad(line, "[[admin]] %q: bcrypt must be a bcrypt hash ($2a$...); make one with nvrcenter -hash-password", a.User)
		}
		users[a.User] = true
	}
	ids := map[string]bool{}
	for i, a := range c.Agents {
		line := lines.table("agent", i)
		if err := nvrha.ServerID(a.ID).Validate(); err != nil {
			return nil, bad(line, "[[agent]] %d: id: %v", i+1, err)
		}
		if ids[a.ID] {
			return nil, bad(line, "[[agent]] %q listed twice", a.ID)
		}
		ids[a.ID] = true
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad(line, "[[agent]] %q: url %q: want http://host:port or https://host:port", a.ID, a.URL)
		}
		if a.SecretFile == "" {
			return nil, bad(line, "[[agent]] %q: secret_file is required (the HMAC key shared with the agent)", a.ID)
		}
		if (a.Cert == "") != (a.Key == "") {
			return nil, bad(line, "[[agent]] %q: give both cert and key for mutual TLS, or neither", a.ID)
		}
		if (a.CA != "" || a.Cert != "") && u.Scheme != "https" {
			return nil, bad(line, "[[agent]] %q: ca, cert and key need an https url", a.ID)
		}
	}
	if c.Failback.Mode == failbackMode(failover.FailbackScheduled) && !c.Failback.Window.set {
		return nil, bad(lines.table("failback", 0), "failback: mode scheduled needs a window")
	}
	return &c, nil
}

// lineFinder finds where tables and keys start, for errors found after
// decoding.
type lineFinder struct{ lines []string }

func newLineFinder(data []byte) lineFinder {
	return lineFinder{lines: strings.Split(string(data), "\n")}
}

// table returns the line of the n-th [name] or [[name]] header, 0 if none.
func (f lineFinder) table(name string, n int) int {
	for i, l := range f.lines {
		t := strings.TrimSpace(l)
		if t == "["+name+"]" || t == "[["+name+"]]" {
			if n == 0 {
				return i + 1
			}
			n--
		}
	}
	return 0
}

// keyIn returns the line of key in the n-th [table] or [[table]]: the
// table's header line if the key is not on a line of its own (an inline
// table), 0 if there is no such table.
func (f lineFinder) keyIn(table string, n int, key string) int {
	h := f.table(table, n)
	if h == 0 {
		return 0
	}
	for i := h; i < len(f.lines); i++ {
		t := strings.TrimSpace(f.lines[i])
		if strings.HasPrefix(t, "[") {
			break
		}
		if rest, ok := strings.CutPrefix(t, key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
	}
	return h
}

// key returns the line of the first assignment to k's last part, 0 if
// none.
func (f lineFinder) key(k toml.Key) int {
	last := k[len(k)-1]
	for i, l := range f.lines {
		t := strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(t, last); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
		if t == "["+k.String()+"]" || t == "[["+k.String()+"]]" {
			return i + 1
		}
	}
	return 0
}

func (c *fileConfig) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// machine returns the failover configuration the file asks for.
func (c *fileConfig) machine() failover.Config {
	return failover.Config{
		Platform: nvrha.Platform(c.Platform),
		Detector: detector.Config{
			Kind:            detector.Kind(c.Detector.Kind),
			ProbeInterval:   time.Duration(c.Detector.ProbeInterval),
			AcceptablePause: time.Duration(c.Detector.AcceptablePause),
			Threshold:       c.Detector.Threshold,
			Misses:          c.Detector.Misses,
		},
		ProbeTimeout: time.Duration(c.Detector.ProbeTimeout),
		Failback: failover.FailbackPolicy{
			Mode:        failover.FailbackMode(c.Failback.Mode),
			HoldDown:    time.Duration(c.Failback.HoldDown),
			FlapWindow:  time.Duration(c.Failback.FlapWindow),
			MaxHoldDown: time.Duration(c.Failback.MaxHoldDown),
			Window:      failover.DailyWindow{Start: c.Failback.Window.start, End: c.Failback.Window.end, Location: time.Local},
		},
	}
}

// agentClient is what the center needs to reach one agent.
type agentClient struct {
	key     httptransport.Key
	tls     *tls.Config
	verify  bool
	credKey string // agents with the same credentials share a client
}

func (c *fileConfig) agentClient(i int) (agentClient, error) {
	a := c.Agents[i]
	bad := func(key string, format string, args ...any) error {
		return c.fileError("agent", i, key, fmt.Errorf("[[agent]] %q: "+format, append([]any{a.ID}, args...)...))
	}
	secret, err := os.ReadFile(c.path(a.SecretFile))
	if err != nil {
		return agentClient{}, bad("secret_file", "secret_file: %w", err)
	}
	secret = bytes.TrimRight(secret, "\r\n")
	keyID := a.KeyID
	if keyID == "" {
		keyID = "center"
	}
	ac := agentClient{key: httptransport.Key{ID: keyID, Secret: secret}, verify: a.VerifyResponses,
		credKey: strings.Join([]string{keyID, c.path(a.SecretFile), c.path(a.CA), c.path(a.Cert), c.path(a.Key), fmt.Sprint(a.VerifyResponses)}, "\x00")}
	if len(secret) < httptransport.MinSecretBytes {
		return agentClient{}, bad("secret_file", "secret_file %s: the secret has %d bytes, want at least %d", a.SecretFile, len(secret), httptransport.MinSecretBytes)
	}
	if a.CA != "" || a.Cert != "" {
		ac.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		if a.CA != "" {
			pool, err := readCA(c.path(a.CA))
			if err != nil {
				return agentClient{}, bad("ca", "ca %s: %w", a.CA, err)
			}
			ac.tls.RootCAs = pool
		}
		if a.Cert != "" {
			cert, err := tls.LoadX509KeyPair(c.path(a.Cert), c.path(a.Key))
			if err != nil {
				return agentClient{}, bad("cert", "cert %s, key %s: %w", a.Cert, a.Key, err)
			}
			ac.tls.Certificates = []tls.Certificate{cert}
		}
	}
	return ac, nil
}

// errNoPEM: a CA file holds no PEM certificate.
var errNoPEM = errors.New("no PEM certificate in it")

// readCA reads a file of PEM certificates into a pool.
func readCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errNoPEM
	}
	return pool, nil
}

// checkServeTLS reads the [tls] certificate and key, so that a bad one is
// an error naming its line before the center starts.
func (c *fileConfig) checkServeTLS() error {
	if c.TLS.Cert == "" {
		return nil
	}
	if _, err := tls.LoadX509KeyPair(c.path(c.TLS.Cert), c.path(c.TLS.Key)); err != nil {
		return c.fileError("tls", 0, "cert", fmt.Errorf("tls: cert %s, key %s: %w", c.TLS.Cert, c.TLS.Key, err))
	}
	return nil
}
