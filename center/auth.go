package center

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// User is an admin user who may log in to the center.
type User struct {
	Name string
	// PasswordHash is the bcrypt hash of the user's password
	// (HashPassword makes one); the password itself is never kept.
	PasswordHash []byte
}

// HashPassword returns the bcrypt hash of password for a User, at bcrypt's
// default cost.
func HashPassword(password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("center: empty password")
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}

// Errors of logging in and of first-admin verification.
var (
	ErrBadCredentials  = errors.New("center: wrong user name or password")
	ErrTooManyAttempts = errors.New("center: too many failed attempts; wait a minute")
	ErrApprovalInvalid = errors.New("center: approval missing, used, expired or for another operation")
)

const (
	sessionCookie = "nvrcenter_session"
	// maxFailures failed password checks per user within failureWindow
	// lock that user out for the rest of the window: bcrypt slows a
	// guesser down, this stops one.
	maxFailures   = 5
	failureWindow = time.Minute
)

type session struct {
	user    string
	expires time.Time
}

// approval is one first-admin verification, waiting for the one operation
// it was given for.
type approval struct {
	session string
	op      failover.Operation
	group   failover.GroupID
	servers string // the sorted server IDs of a removal, joined
	expires time.Time
}

type auth struct {
	users       []User
	sessionTTL  time.Duration
	approvalTTL time.Duration
	now         func() time.Time

	mu        sync.Mutex
	sessions  map[string]*session
	approvals map[string]approval
	failures  map[string][]time.Time
}

func newAuth(users []User, sessionTTL, approvalTTL time.Duration, now func() time.Time) (*auth, error) {
	if len(users) == 0 {
		return nil, fmt.Errorf("%w: no admin user", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for i, u := range users {
		if u.Name == "" {
			return nil, fmt.Errorf("%w: admin user %d has no name", ErrInvalidConfig, i+1)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("%w: admin user %q listed twice", ErrInvalidConfig, u.Name)
		}
		seen[u.Name] = true
		if _, err := bcrypt.Cost(u.PasswordHash); err != nil {
			return nil, fmt.Errorf("%w: admin user %q: password hash is not bcrypt: %w", ErrInvalidConfig, u.Name, err)
		}
	}
	return &auth{
		users: slices.Clone(users), sessionTTL: sessionTTL, approvalTTL: approvalTTL, now: now,
		sessions: map[string]*session{}, approvals: map[string]approval{}, failures: map[string][]time.Time{},
	}, nil
}

func (a *auth) firstAdmin() string { return a.users[0].Name }

// checkPassword verifies a user's password, counting failures.
func (a *auth) checkPassword(name, password string) error {
	now := a.now()
	a.mu.Lock()
	recent := a.failures[name][:0]
	for _, t := range a.failures[name] {
		if now.Sub(t) < failureWindow {
			recent = append(recent, t)
		}
	}
	a.failures[name] = recent
	locked := len(recent) >= maxFailures
	a.mu.Unlock()
	if locked {
		return ErrTooManyAttempts
	}
	var hash []byte
	for _, u := range a.users {
		if u.Name == name {
			hash = u.PasswordHash
		}
	}
	if hash == nil {
		// Take as long as a real check, so that timing does not tell
		// which names exist.
		hash = a.users[0].PasswordHash
		name = ""
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || name == "" {
		a.mu.Lock()
		if name != "" {
			a.failures[name] = append(a.failures[name], now)
		}
		a.mu.Unlock()
		return ErrBadCredentials
	}
	a.mu.Lock()
	delete(a.failures, name)
	a.mu.Unlock()
	return nil
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// login checks the password and opens a session.
func (a *auth) login(name, password string) (string, error) {
	if err := a.checkPassword(name, password); err != nil {
		return "", err
	}
	tok := newToken()
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// Sessions nobody uses any more go when someone logs in, so that
	// the map stays as large as the sessions alive.
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[tok] = &session{user: name, expires: now.Add(a.sessionTTL)}
	return tok, nil
}

// session returns the user of a live session and extends it.
func (a *auth) session(tok string) (string, bool) {
	if tok == "" {
		return "", false
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[tok]
	if !ok {
		return "", false
	}
	if !now.Before(s.expires) {
		delete(a.sessions, tok)
		return "", false
	}
	s.expires = now.Add(a.sessionTTL)
	return s.user, true
}

func (a *auth) logout(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, tok)
	for k, ap := range a.approvals {
		if ap.session == tok {
			delete(a.approvals, k)
		}
	}
}

func serverKey(servers []nvrha.ServerID) string {
	s := slices.Clone(servers)
	slices.Sort(s)
	s = slices.Compact(s)
	out := ""
	for i, id := range s {
		if i > 0 {
			out += "\x00"
		}
		out += string(id)
	}
	return out
}

// approve checks the first admin user's password and returns a token that
// approves op on group (and, for a removal, exactly these servers) once,
// from this session, within the approval TTL.
func (a *auth) approve(sessionTok string, op failover.Operation, group failover.GroupID, servers []nvrha.ServerID, password string) (string, time.Time, error) {
	if op != failover.OpDeleteGroup && op != failover.OpRemoveStandbyServers {
		return "", time.Time{}, fmt.Errorf("center: operation %q needs no approval", op)
	}
	if err := a.checkPassword(a.firstAdmin(), password); err != nil {
		return "", time.Time{}, err
	}
	tok := newToken()
	exp := a.now().Add(a.approvalTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, ap := range a.approvals {
		if !a.now().Before(ap.expires) {
			delete(a.approvals, k)
		}
	}
	a.approvals[tok] = approval{session: sessionTok, op: op, group: group, servers: serverKey(servers), expires: exp}
	return tok, exp, nil
}

// consume uses up an approval token for exactly this operation; it fails
// for a token that was already used, has expired, or was given for another
// session, operation, group or set of servers.
func (a *auth) consume(tok, sessionTok string, op failover.Operation, group failover.GroupID, servers []nvrha.ServerID) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ap, ok := a.approvals[tok]
	if !ok {
		return ErrApprovalInvalid
	}
	delete(a.approvals, tok) // once, whatever the outcome
	match := subtle.ConstantTimeCompare([]byte(ap.session), []byte(sessionTok)) == 1
	if !match || ap.op != op || ap.group != group || ap.servers != serverKey(servers) || !a.now().Before(ap.expires) {
		return ErrApprovalInvalid
	}
	return nil
}
