// Package listeners holds what every device listener shares: the Envelope
// a listener builds from one inbound message, and the Handler it gives the
// envelope to before acknowledging. It depends on nothing in medgate, so
// listeners and simulators stay apart from the MIS.
//
// The contract is "ack after storage": Handle returns nil only once the
// envelope is durably stored (committed and fsync'd) and processed; only
// then does the listener send its protocol's positive acknowledgement. An
// error is answered with the protocol's negative acknowledgement, chosen by
// the error's class (see the sentinels and InvalidError).
package listeners

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// Protocol names a device protocol.
type Protocol string

const (
	HL7   Protocol = "hl7"
	ASTM  Protocol = "astm"
	DICOM Protocol = "dicom"
)

// Envelope is one inbound message, byte for byte, with where it came from.
type Envelope struct {
	Protocol Protocol
	Listener string    // which listener took it, e.g. "mllp 127.0.0.1:2575"
	Peer     string    // remote address, or the serial port path
	Received time.Time // when the last byte arrived

	// Identity the peer claims, used to find its device profile.
	CallingAE          string // DICOM calling AE title
	CalledAE           string // DICOM called AE title
	SendingApplication string // HL7 MSH-3
	SendingFacility    string // HL7 MSH-4
	Sender             string // ASTM H-record sender name

	// Key identifies the message for deduplication within its device: the
	// HL7 control ID (MSH-10), the DICOM SOP Instance UID, the ASTM
	// sender's message control ID when it has one. Empty: bytes only.
	Key string
	// Type is the protocol's message type, for display and routing:
	// "ORU^R01", a SOP Class UID, "ASTM results".
	Type string

	Raw []byte
	// Truncated marks Raw as only the start of a message too large to
	// take: it is stored for review and never processed, and the listener
	// refuses the message whatever Handle returns.
	Truncated bool

	// File, when set, holds the raw bytes instead of Raw, for messages too
	// large to hold in memory (a DICOM instance, as a Part 10 file). The
	// listener writes and fsyncs it, fills Size and Digest, and removes
	// whatever is left at File once Handle returns: the handler keeps the
	// bytes by moving the file (os.Rename, same filesystem) into its store.
	File   string
	Size   int64
	Digest [32]byte
}

// SHA256 is the digest of the raw bytes, stored with them.
func (e *Envelope) SHA256() [32]byte {
	if e.File != "" {
		return e.Digest
	}
	return sha256.Sum256(e.Raw)
}

// Handler takes envelopes from listeners. Implementations are safe for
// concurrent use.
type Handler interface {
	Handle(ctx context.Context, env *Envelope) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, env *Envelope) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, env *Envelope) error { return f(ctx, env) }

// Error classes a listener maps to its protocol's negative acknowledgement.
var (
	// ErrUnknownDevice: no registered device matches the envelope's
	// identity and the listener does not accept unknown devices. Nothing is
	// stored. HL7 AR, DICOM association reject (calling AE title not
	// recognized), ASTM refusal.
	ErrUnknownDevice = errors.New("device not registered")
	// ErrUnavailable: the envelope could not be stored (database down,
	// disk full). The sender should retry. HL7 AR/CR, DICOM 0xA700.
	ErrUnavailable = errors.New("temporarily unable to store the message")
)

// InvalidError says the envelope was stored but could not be parsed or
// mapped. Reason is for a person ("OBX-5 at byte 312: …"). HL7 AE with an
// ERR segment, DICOM 0xC000-class failure, ASTM NAK.
type InvalidError struct {
	Stage  string // "parse" or "map"
	Reason string
	// Unsupported marks a well-formed message medgate does not take
	// (HL7 AR "unsupported message type").
	Unsupported bool
	// Mismatch marks a message that contradicts its own envelope, such as
	// a DICOM dataset whose SOP Instance UID differs from the C-STORE
	// command's (DICOM 0xA900 rather than 0xC000).
	Mismatch bool
	// Err is the parser's own error when there is one, so that a listener
	// can answer in its protocol's terms (HL7 ERR location and code).
	Err error
}

func (e *InvalidError) Error() string { return e.Stage + ": " + e.Reason }

// Unwrap returns the parser's error.
func (e *InvalidError) Unwrap() error { return e.Err }

// Responder is an optional interface of a Handler whose answer to some
// messages is a message of its own rather than the protocol's
// acknowledgment: an HL7 order query (QRY^Q02) is answered with the query
// acknowledgment and the orders it asks for (QRY^R02 with one ORF^R04). A listener that supports it
// calls Respond instead of Handle. Respond does what Handle does (store,
// then process) and returns the messages to send back, in order, on the
// same connection:
//
//   - an error: the protocol's negative acknowledgment, as for Handle;
//   - nil, nil: the listener's default positive acknowledgment;
//   - a non-nil slice: those messages instead of the acknowledgment (an
//     empty non-nil slice sends nothing).
//
// The answer is built only after the message is stored, so "ack after
// storage" holds for answers too.
type Responder interface {
	Handler
	Respond(ctx context.Context, env *Envelope) ([][]byte, error)
}
