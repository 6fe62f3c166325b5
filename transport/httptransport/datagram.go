package httptransport

import (
	"crypto/sha256"
	"encoding/binary"
	"unicode/utf8"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// The UDP probe channel's datagrams; see the package documentation, "Probes
// over UDP", for the layout. Every integer is big-endian; every string is a
// length byte and that many bytes of UTF-8.
const (
	// datagramMagic starts every datagram: the protocol and its version. It
	// differs from the first bytes of every canonical string the HTTP
	// protocol signs, so no signature of one can pass for the other's.
	datagramMagic = "NVU1"
	// The datagram kinds, the byte after the magic.
	kindProbeRequest byte = 1
	kindProbeAnswer  byte = 2

	nonceSize = 16
	macSize   = sha256.Size
	// maxDatagram bounds every datagram either side sends or reads.
	maxDatagram = 2048
	// maxDatagramMessage bounds the message of an error body carried in an
	// answer, so that the answer fits in maxDatagram.
	maxDatagramMessage = 512
	// statusUseHTTP is the status of an answer that carries no result: the
	// agent could not fit its answer in a datagram, and the center asks
	// again over HTTP at once.
	statusUseHTTP = 0
)

// The flags of a binary probe report.
const (
	flagHealthy byte = 1 << iota
	flagRecording
	flagHasEmptyRecordingSpace
	knownFlags = flagHealthy | flagRecording | flagHasEmptyRecordingSpace
)

// probeRequest is a decoded probe request. Its byte slices point into the
// datagram.
type probeRequest struct {
	keyID, server []byte
	timestamp     uint64 // Unix seconds
	nonce         [nonceSize]byte
	waitMillis    uint32 // how long the center waits for the answer
	signed, mac   []byte // the bytes the MAC covers, and the MAC
}

// appendProbeRequest appends an unsigned probe request to b; the caller
// appends the MAC of everything appended.
func appendProbeRequest(b []byte, keyID string, server nvrha.ServerID, timestamp uint64, nonce *[nonceSize]byte, waitMillis uint32) []byte {
	b = append(b, datagramMagic...)
	b = append(b, kindProbeRequest)
	b = appendShortString(b, keyID)
	b = appendShortString(b, string(server))
	b = binary.BigEndian.AppendUint64(b, timestamp)
	b = append(b, nonce[:]...)
	return binary.BigEndian.AppendUint32(b, waitMillis)
}

// parseProbeRequest decodes a probe request. It checks the layout and that
// the key ID and server ID are well formed, not the MAC.
func parseProbeRequest(b []byte) (probeRequest, bool) {
	var r probeRequest
	d := datagramReader{b: b, ok: true}
	if !d.header(kindProbeRequest) {
		return r, false
	}
	r.keyID = d.shortString()
	r.server = d.shortString()
	r.timestamp = d.uint64()
	d.bytes(r.nonce[:])
	r.waitMillis = d.uint32()
	r.signed = b[:d.off]
	r.mac = d.take(macSize)
	if !d.ok || d.off != len(b) {
		return r, false
	}
	if !validToken(r.keyID, 1, 64, true) || !utf8.Valid(r.server) || nvrha.ServerID(r.server).Validate() != nil {
		return r, false
	}
	return r, true
}

// probeAnswerDatagram is a decoded probe answer. Its byte slices point into
// the datagram.
type probeAnswerDatagram struct {
	keyID, server []byte
	nonce         [nonceSize]byte
	status        uint16
	body          []byte
	signed, mac   []byte
}

// appendProbeAnswer appends an unsigned probe answer to b; the caller
// appends the MAC of everything appended.
func appendProbeAnswer(b []byte, keyID string, server []byte, nonce *[nonceSize]byte, status uint16, body []byte) []byte {
	b = append(b, datagramMagic...)
	b = append(b, kindProbeAnswer)
	b = appendShortString(b, keyID)
	b = appendShortString(b, server)
	b = append(b, nonce[:]...)
	b = binary.BigEndian.AppendUint16(b, status)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

// parseProbeAnswer decodes a probe answer's layout; not its MAC, nor its
// body.
func parseProbeAnswer(b []byte) (probeAnswerDatagram, bool) {
	var a probeAnswerDatagram
	d := datagramReader{b: b, ok: true}
	if !d.header(kindProbeAnswer) {
		return a, false
	}
	a.keyID = d.shortString()
	a.server = d.shortString()
	d.bytes(a.nonce[:])
	a.status = d.uint16()
	a.body = d.take(int(d.uint16()))
	a.signed = b[:d.off]
	a.mac = d.take(macSize)
	return a, d.ok && d.off == len(b)
}

// reportFits reports whether r can be written as a binary report.
func reportFits(r transport.ProbeReport) bool {
	return len(r.Server) <= 255 && len(r.Covering) <= 255
}

// appendReport appends r as a binary report; r must fit (reportFits).
func appendReport(b []byte, r transport.ProbeReport) []byte {
	var flags byte
	if r.Healthy {
		flags |= flagHealthy
	}
	if r.Recording {
		flags |= flagRecording
	}
	if r.HasEmptyRecordingSpace {
		flags |= flagHasEmptyRecordingSpace
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Epoch))
	b = appendShortString(b, string(r.Server))
	return appendShortString(b, string(r.Covering))
}

// parseReport decodes a binary report. A report's Server that equals asked,
// the server probed, is asked itself, so that the usual answer allocates
// nothing. Text that is not UTF-8, unknown flags or trailing bytes fail.
func parseReport(b []byte, asked nvrha.ServerID) (transport.ProbeReport, bool) {
	var r transport.ProbeReport
	d := datagramReader{b: b, ok: true}
	flags := d.byte()
	r.Epoch = nvrha.Epoch(d.uint64())
	server := d.shortString()
	covering := d.shortString()
	if !d.ok || d.off != len(b) || flags&^knownFlags != 0 || !utf8.Valid(server) || !utf8.Valid(covering) {
		return transport.ProbeReport{}, false
	}
	r.Healthy = flags&flagHealthy != 0
	r.Recording = flags&flagRecording != 0
	r.HasEmptyRecordingSpace = flags&flagHasEmptyRecordingSpace != 0
	if string(server) == string(asked) {
		r.Server = asked
	} else {
		r.Server = nvrha.ServerID(server)
	}
	if len(covering) > 0 {
		r.Covering = nvrha.ServerID(covering)
	}
	return r, true
}

// appendShortString appends s with its length in one byte; s is at most
// 255 bytes.
func appendShortString[T string | []byte](b []byte, s T) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// datagramReader reads a datagram front to back; once a read runs past the
// end, ok is false and every later read returns zeros.
type datagramReader struct {
	b   []byte
	off int
	ok  bool
}

func (d *datagramReader) header(kind byte) bool {
	magic := d.take(len(datagramMagic))
	return d.ok && string(magic) == datagramMagic && d.byte() == kind && d.ok
}

func (d *datagramReader) take(n int) []byte {
	if !d.ok || n < 0 || len(d.b)-d.off < n {
		d.ok = false
		return nil
	}
	s := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return s
}

func (d *datagramReader) byte() byte {
	if s := d.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (d *datagramReader) uint16() uint16 {
	if s := d.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (d *datagramReader) uint32() uint32 {
	if s := d.take(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (d *datagramReader) uint64() uint64 {
	if s := d.take(8); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

func (d *datagramReader) shortString() []byte { return d.take(int(d.byte())) }

func (d *datagramReader) bytes(dst []byte) { copy(dst, d.take(len(dst))) }
