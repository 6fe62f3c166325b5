package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// The probe datagrams, written here from docs/agent-protocol.md rather than
// with httptransport's code, so that the check also holds the document to
// what agents answer.
const (
	udpMagic       = "NVU1"
	udpKindRequest = 0x01
	udpKindAnswer  = 0x02
	udpNonceSize   = 16
	udpMACSize     = sha256.Size
	udpFlagsKnown  = 0x07
	udpMaxDatagram = 2048
	// udpWaitMillis is the wait a request announces: how long the agent
	// may take over the report.
	udpWaitMillis = 1000
	// udpTries is how many datagrams a UDP probe sends, each with a fresh
	// nonce, before it fails: a datagram may be lost.
	udpTries = 3
)

// errUDPAskHTTP is an answer with status 0: the report did not fit in a
// datagram.
var errUDPAskHTTP = errors.New("the agent answered status 0: ask over HTTP")

// probeUDP probes the agent once over its UDP channel on port, checking
// the answer's layout, binding and MAC, and returns its report.
func (k *checker) probeUDP(port uint16) (transport.ProbeReport, error) {
	u, err := url.Parse(k.base)
	if err != nil {
		return transport.ProbeReport{}, err
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(k.ctx, k.timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "udp", net.JoinHostPort(u.Hostname(), strconv.Itoa(int(port))))
	if err != nil {
		return transport.ProbeReport{}, err
	}
	defer conn.Close()
	per := k.timeout / udpTries
	var last error
	for range udpTries {
		var nonce [udpNonceSize]byte
		_, _ = rand.Read(nonce[:])
		req := udpRequest(k.key, k.id, uint64(time.Now().Unix()), nonce, udpWaitMillis)
		if _, err := conn.Write(req); err != nil {
			return transport.ProbeReport{}, err
		}
		_ = conn.SetReadDeadline(time.Now().Add(per))
		buf := make([]byte, udpMaxDatagram+udpMACSize)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				last = fmt.Errorf("no answer over UDP within %v: %w", per, err)
				break
			}
			rep, err := parseUDPAnswer(buf[:n], k.key, k.id, nonce)
			if errors.Is(err, errOtherNonce) {
				continue // the late answer to an earlier try
			}
			return rep, err
		}
	}
	return transport.ProbeReport{}, last
}

// udpRequest returns a signed probe request datagram.
func udpRequest(key httptransport.Key, server nvrha.ServerID, unix uint64, nonce [udpNonceSize]byte, waitMillis uint32) []byte {
	b := []byte(udpMagic)
	b = append(b, udpKindRequest, byte(len(key.ID)))
	b = append(b, key.ID...)
	b = append(b, byte(len(server)))
	b = append(b, server...)
	b = binary.BigEndian.AppendUint64(b, unix)
	b = append(b, nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, waitMillis)
	return append(b, hmacSHA256(key.Secret, b)...)
}

func hmacSHA256(secret, msg []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(msg)
	return h.Sum(nil)
}

// errOtherNonce is an answer to another request than the one awaited.
var errOtherNonce = errors.New("an answer to another probe")

// parseUDPAnswer checks an answer to the request with nonce and decodes its
// report.
func parseUDPAnswer(b []byte, key httptransport.Key, server nvrha.ServerID, nonce [udpNonceSize]byte) (transport.ProbeReport, error) {
	r := &reader{b: b}
	if string(r.take(len(udpMagic))) != udpMagic || r.byte() != udpKindAnswer {
		return transport.ProbeReport{}, fmt.Errorf("not a probe answer: % x", b[:min(len(b), 5)])
	}
	keyID, srv := r.short(), r.short()
	n := r.take(udpNonceSize)
	status := r.uint16()
	body := r.take(int(r.uint16()))
	signed := len(b) - len(r.b)
	mac := r.take(udpMACSize)
	switch {
	case r.cut:
		return transport.ProbeReport{}, fmt.Errorf("answer of %d bytes cut short", len(b))
	case len(r.b) != 0:
		return transport.ProbeReport{}, fmt.Errorf("%d bytes after the MAC", len(r.b))
	case !bytes.Equal(n, nonce[:]):
		return transport.ProbeReport{}, errOtherNonce
	case string(keyID) != key.ID || string(srv) != string(server):
		return transport.ProbeReport{}, fmt.Errorf("answer names key %q and server %q, want the request's %q and %q", keyID, srv, key.ID, server)
	case !hmac.Equal(mac, hmacSHA256(key.Secret, b[:signed])):
		return transport.ProbeReport{}, errors.New("the answer's MAC is wrong")
	case status == 0:
		return transport.ProbeReport{}, errUDPAskHTTP
	case status != 200:
		return transport.ProbeReport{}, fmt.Errorf("status %d: %s", status, body)
	}
	return parseUDPReport(body)
}

// parseUDPReport decodes the report of a 200 answer.
func parseUDPReport(b []byte) (transport.ProbeReport, error) {
	r := &reader{b: b}
	flags := r.byte()
	epoch := r.uint64()
	server, covering := r.short(), r.short()
	switch {
	case r.cut || len(r.b) != 0:
		return transport.ProbeReport{}, fmt.Errorf("report of %d bytes: not flags, epoch, server and covering", len(b))
	case flags&^udpFlagsKnown != 0:
		return transport.ProbeReport{}, fmt.Errorf("report flags %#02x: unknown bits", flags)
	case !utf8.Valid(server) || !utf8.Valid(covering):
		return transport.ProbeReport{}, errors.New("report text is not UTF-8")
	}
	return transport.ProbeReport{
		Server: nvrha.ServerID(server), Covering: nvrha.ServerID(covering), Epoch: nvrha.Epoch(epoch),
		Healthy: flags&0x01 != 0, Recording: flags&0x02 != 0, HasEmptyRecordingSpace: flags&0x04 != 0,
	}, nil
}

// reader reads big-endian fields front to back; a read past the end sets
// cut and returns zeros.
type reader struct {
	b   []byte
	cut bool
}

func (r *reader) take(n int) []byte {
	if r.cut || n > len(r.b) {
		r.cut = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) uint16() uint16 {
	if s := r.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if s := r.take(8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (r *reader) short() []byte { return r.take(int(r.byte())) }
