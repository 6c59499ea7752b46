package dicom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PDU types (PS3.8 9.3).
const (
	TypeAssociateRQ byte = 0x01
	TypeAssociateAC byte = 0x02
	TypeAssociateRJ byte = 0x03
	TypePDataTF     byte = 0x04
	TypeReleaseRQ   byte = 0x05
	TypeReleaseRP   byte = 0x06
	TypeAbort       byte = 0x07
)

// Item types inside A-ASSOCIATE PDUs (PS3.8 9.3.2, 9.3.3, Annex D).
const (
	itemApplicationContext = 0x10
	itemPresentationRQ     = 0x20
	itemPresentationAC     = 0x21
	itemAbstractSyntax     = 0x30
	itemTransferSyntax     = 0x40
	itemUserInfo           = 0x50
	subMaxLength           = 0x51
	subImplementationClass = 0x52
	subAsyncOps            = 0x53
	subRoleSelection       = 0x54
	subImplementationVer   = 0x55
)

// A-ABORT sources (PS3.8 9.3.8).
const (
	SourceServiceUser     byte = 0
	SourceServiceProvider byte = 2
)

// A-ABORT reasons when the source is the service provider (PS3.8 9.3.8).
const (
	AbortNotSpecified          byte = 0
	AbortUnrecognizedPDU       byte = 1
	AbortUnexpectedPDU         byte = 2
	AbortUnrecognizedParameter byte = 4
	AbortUnexpectedParameter   byte = 5
	AbortInvalidParameter      byte = 6
)

// A-ASSOCIATE-RJ result, source and reason values (PS3.8 9.3.4).
const (
	RejectPermanent byte = 1
	RejectTransient byte = 2

	RejectSourceUser         byte = 1 // DICOM UL service-user
	RejectSourceACSE         byte = 2 // service-provider, ACSE related
	RejectSourcePresentation byte = 3 // service-provider, presentation related

	// Source 1 (service-user):
	RejectNoReason                    byte = 1
	RejectAppContextNotSupported      byte = 2
	RejectCallingAENotRecognized      byte = 3
	RejectCalledAENotRecognized       byte = 7
	RejectProtocolVersionNotSupported byte = 2 // source 2 (ACSE)
)

// Presentation context results (PS3.8 9.3.3.2).
const (
	ResultAcceptance                   byte = 0
	ResultUserRejection                byte = 1
	ResultNoReason                     byte = 2
	ResultAbstractSyntaxNotSupported   byte = 3
	ResultTransferSyntaxesNotSupported byte = 4
)

// Limits of the PDU reader.
const (
	// DefaultMaxPDULength is the P-DATA-TF length a Server or Client
	// announces when its MaxPDULength is zero, and the most it sends to a
	// peer that announces 0 (unlimited).
	DefaultMaxPDULength = 131072
	// maxAssociatePDU bounds A-ASSOCIATE-RQ/AC PDUs, which the maximum
	// length negotiation does not cover: 128 presentation contexts with
	// ten transfer syntaxes each take well under 128 KiB.
	maxAssociatePDU = 1 << 20
	// maxSendPDU caps the P-DATA-TF PDUs we build, whatever the peer
	// announces.
	maxSendPDU = 1 << 20
	// minMaxPDULength is the smallest maximum length a peer may announce:
	// one PDV item header (6 bytes) and one even fragment (PS3.8 E.1) of
	// 2 bytes. Below it no P-DATA-TF fits, and the association is refused.
	minMaxPDULength = 8
)

// ErrProtocol is what every *PDUError matches with errors.Is.
var ErrProtocol = errors.New("dicom: protocol error")

// PDUError reports a PDU that breaks PS3.8: unrecognized type, a length
// over the announced limit or inconsistent item lengths. Reason is the
// A-ABORT reason the receiver answers with (source: service provider).
type PDUError struct {
	Reason byte
	Msg    string
}

func (e *PDUError) Error() string { return "dicom: invalid PDU: " + e.Msg }

// Unwrap makes errors.Is(err, ErrProtocol) true.
func (e *PDUError) Unwrap() error { return ErrProtocol }

func invalid(format string, args ...any) error {
	return &PDUError{Reason: AbortInvalidParameter, Msg: fmt.Sprintf(format, args...)}
}

// PDU is one of *AssociateRQ, *AssociateAC, *AssociateRJ, *PDataTF,
// *ReleaseRQ, *ReleaseRP and *Abort.
type PDU interface{ Type() byte }

// PresentationContext is a proposed presentation context (item 0x20): an
// abstract syntax and the transfer syntaxes the requestor can use for it.
// In a ClientConfig, ID may be left 0: Associate numbers the contexts.
type PresentationContext struct {
	ID               byte
	AbstractSyntax   string
	TransferSyntaxes []string
}

// ContextResult is the acceptor's answer to one presentation context
// (item 0x21).
type ContextResult struct {
	ID             byte
	Result         byte // ResultAcceptance … ResultTransferSyntaxesNotSupported
	TransferSyntax string
}

// RoleSelection is an SCP/SCU role selection sub-item (0x54).
type RoleSelection struct {
	SOPClassUID string
	SCU, SCP    bool
}

// AsyncOps is the asynchronous operations window sub-item (0x53).
type AsyncOps struct {
	Invoked, Performed uint16
}

// UserInfo is the user information item (0x50). Sub-items not listed here
// (extended negotiation, user identity) are skipped when read.
type UserInfo struct {
	MaxPDULength           uint32 // 0: unlimited
	ImplementationClassUID string
	ImplementationVersion  string
	AsyncOps               *AsyncOps
	Roles                  []RoleSelection
}

// AssociateRQ is an A-ASSOCIATE-RQ PDU.
type AssociateRQ struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string
	ApplicationContext   string
	PresentationContexts []PresentationContext
	UserInfo             UserInfo
}

// AssociateAC is an A-ASSOCIATE-AC PDU.
type AssociateAC struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string // echoed from the request, not tested
	ApplicationContext   string
	PresentationContexts []ContextResult
	UserInfo             UserInfo
}

// AssociateRJ is an A-ASSOCIATE-RJ PDU.
type AssociateRJ struct{ Result, Source, Reason byte }

// PDV is one presentation data value item of a P-DATA-TF PDU.
type PDV struct {
	ContextID byte
	Command   bool // message control header bit 0
	Last      bool // message control header bit 1
	Data      []byte
}

// PDataTF is a P-DATA-TF PDU.
type PDataTF struct{ Items []PDV }

// ReleaseRQ is an A-RELEASE-RQ PDU.
type ReleaseRQ struct{}

// ReleaseRP is an A-RELEASE-RP PDU.
type ReleaseRP struct{}

// Abort is an A-ABORT PDU.
type Abort struct{ Source, Reason byte }

func (*AssociateRQ) Type() byte { return TypeAssociateRQ }
func (*AssociateAC) Type() byte { return TypeAssociateAC }
func (*AssociateRJ) Type() byte { return TypeAssociateRJ }
func (*PDataTF) Type() byte     { return TypePDataTF }
func (*ReleaseRQ) Type() byte   { return TypeReleaseRQ }
func (*ReleaseRP) Type() byte   { return TypeReleaseRP }
func (*Abort) Type() byte       { return TypeAbort }

// PDUReader reads PDUs from a stream. It never allocates more than the
// limit for the PDU's type: MaxPDULength (plus nothing) for P-DATA-TF,
// 1 MiB for A-ASSOCIATE-RQ/AC, exactly 4 bytes for the others.
type PDUReader struct {
	// MaxPDULength is the P-DATA-TF length we announced; a longer one is
	// an error. 0 means DefaultMaxPDULength.
	MaxPDULength uint32

	r   io.Reader
	hdr [6]byte

	// ring, when set, holds the buffers P-DATA-TF bodies are read into,
	// reused in turn instead of allocated per PDU (a 1 GiB instance would
	// otherwise allocate 1 GiB). The owner guarantees that a PDU's data is
	// no longer used once len(ring) newer PDUs have been read.
	ring [][]byte
	next int
}

// reuseBuffers makes the reader recycle n P-DATA-TF buffers (see ring).
func (r *PDUReader) reuseBuffers(n int) { r.ring = make([][]byte, n) }

// body returns a buffer of n bytes for a PDU of type typ.
func (r *PDUReader) body(typ byte, n uint32) []byte {
	if typ != TypePDataTF || len(r.ring) == 0 {
		return make([]byte, n)
	}
	b := r.ring[r.next]
	if uint32(cap(b)) < n {
		b = make([]byte, n)
	}
	b = b[:n]
	r.ring[r.next] = b
	r.next = (r.next + 1) % len(r.ring)
	return b
}

// NewPDUReader returns a PDUReader reading from r with the given P-DATA-TF
// limit (0: DefaultMaxPDULength).
func NewPDUReader(r io.Reader, maxPDULength uint32) *PDUReader {
	return &PDUReader{r: r, MaxPDULength: maxPDULength}
}

// ReadPDU reads the next PDU. Errors from the underlying reader are
// returned as they are (io.EOF only between PDUs, io.ErrUnexpectedEOF
// inside one); a malformed PDU is a *PDUError, after which the stream
// position is undefined. The PDV data of a P-DATA-TF is a fresh slice the
// caller owns, unless the reader recycles buffers (reuseBuffers).
func (r *PDUReader) ReadPDU() (PDU, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:1]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r.r, r.hdr[1:]); err != nil {
		return nil, noEOF(err)
	}
	typ := r.hdr[0]
	n := binary.BigEndian.Uint32(r.hdr[2:])
	var limit uint32
	switch typ {
	case TypeAssociateRQ, TypeAssociateAC:
		limit = maxAssociatePDU
	case TypePDataTF:
		limit = r.MaxPDULength
		if limit == 0 {
			limit = DefaultMaxPDULength
		}
	case TypeAssociateRJ, TypeReleaseRQ, TypeReleaseRP, TypeAbort:
		if n != 4 {
			return nil, invalid("PDU type 0x%02x has length %d, want 4", typ, n)
		}
		limit = 4
	default:
		return nil, &PDUError{Reason: AbortUnrecognizedPDU, Msg: fmt.Sprintf("unrecognized PDU type 0x%02x", typ)}
	}
	if n > limit {
		return nil, invalid("PDU type 0x%02x length %d exceeds the limit %d", typ, n, limit)
	}
	var body []byte
	if (typ == TypeAssociateRQ || typ == TypeAssociateAC) && n > 64<<10 {
		// Grown as the bytes arrive: a peer announcing 1 MiB and sending
		// nothing must not cost 1 MiB per connection.
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.r, int64(n))); err != nil {
			return nil, noEOF(err)
		}
		if len(body) < int(n) {
			return nil, io.ErrUnexpectedEOF
		}
	} else {
		body = r.body(typ, n)
		if _, err := io.ReadFull(r.r, body); err != nil {
			return nil, noEOF(err)
		}
	}
	switch typ {
	case TypeAssociateRQ:
		return parseAssociateRQ(body)
	case TypeAssociateAC:
		return parseAssociateAC(body)
	case TypePDataTF:
		return parsePData(body)
	case TypeAssociateRJ:
		return &AssociateRJ{Result: body[1], Source: body[2], Reason: body[3]}, nil
	case TypeReleaseRQ:
		return &ReleaseRQ{}, nil
	case TypeReleaseRP:
		return &ReleaseRP{}, nil
	default:
		return &Abort{Source: body[2], Reason: body[3]}, nil
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parsePData(b []byte) (*PDataTF, error) {
	p := &PDataTF{}
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, invalid("P-DATA-TF: %d trailing bytes", len(b)-off)
		}
		n := binary.BigEndian.Uint32(b[off:])
		off += 4
		if n < 2 || uint64(n) > uint64(len(b)-off) {
			return nil, invalid("P-DATA-TF: PDV length %d at offset %d does not fit", n, off-4)
		}
		mch := b[off+1]
		p.Items = append(p.Items, PDV{
			ContextID: b[off],
			Command:   mch&1 != 0,
			Last:      mch&2 != 0,
			Data:      b[off+2 : off+int(n) : off+int(n)],
		})
		off += int(n)
	}
	if len(p.Items) == 0 {
		return nil, invalid("P-DATA-TF without PDV items")
	}
	return p, nil
}

// assocHeader is the fixed part of A-ASSOCIATE-RQ/AC.
func parseAssocHeader(b []byte) (version uint16, called, calling string, items []byte, err error) {
	if len(b) < 68 {
		return 0, "", "", nil, invalid("A-ASSOCIATE: fixed fields need 68 bytes, have %d", len(b))
	}
	return binary.BigEndian.Uint16(b), trimAE(b[4:20]), trimAE(b[20:36]), b[68:], nil
}

func trimAE(b []byte) string { return strings.Trim(string(b), " \x00") }

func trimUID(b []byte) string { return strings.TrimRight(string(b), " \x00") }

// forItems calls fn for each item (type, 1 reserved byte, 2-byte length,
// value) of b.
func forItems(b []byte, where string, fn func(typ byte, v []byte) error) error {
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return invalid("%s: %d trailing bytes", where, len(b)-off)
		}
		typ := b[off]
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if n > len(b)-off {
			return invalid("%s: item 0x%02x length %d exceeds the %d bytes left", where, typ, n, len(b)-off)
		}
		if err := fn(typ, b[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func parseAssociateRQ(b []byte) (*AssociateRQ, error) {
	v, called, calling, items, err := parseAssocHeader(b)
	if err != nil {
		return nil, err
	}
	rq := &AssociateRQ{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	err = forItems(items, "A-ASSOCIATE-RQ", func(typ byte, v []byte) error {
		switch typ {
		case itemApplicationContext:
			rq.ApplicationContext = trimUID(v)
		case itemPresentationRQ:
			if len(v) < 4 {
				return invalid("presentation context item of %d bytes", len(v))
			}
			pc := PresentationContext{ID: v[0]}
			seenAbstract := false
			err := forItems(v[4:], "presentation context", func(typ byte, v []byte) error {
				switch typ {
				case itemAbstractSyntax:
					if seenAbstract {
						return invalid("presentation context %d: two abstract syntaxes", pc.ID)
					}
					seenAbstract = true
					pc.AbstractSyntax = trimUID(v)
				case itemTransferSyntax:
					pc.TransferSyntaxes = append(pc.TransferSyntaxes, trimUID(v))
				}
				// Other sub-item types are skipped (PS3.8 9.3: items of
				// unrecognized types are ignored).
				return nil
			})
			if err != nil {
				return err
			}
			if !seenAbstract || len(pc.TransferSyntaxes) == 0 {
				return invalid("presentation context %d lacks its abstract or transfer syntax", pc.ID)
			}
			rq.PresentationContexts = append(rq.PresentationContexts, pc)
		case itemUserInfo:
			return parseUserInfo(v, &rq.UserInfo)
		}
		// Other item types are skipped (PS3.8 9.3.1: unknown items are
		// ignored by the receiver).
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rq, nil
}

func parseAssociateAC(b []byte) (*AssociateAC, error) {
	v, called, calling, items, err := parseAssocHeader(b)
	if err != nil {
		return nil, err
	}
	ac := &AssociateAC{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	err = forItems(items, "A-ASSOCIATE-AC", func(typ byte, v []byte) error {
		switch typ {
		case itemApplicationContext:
			ac.ApplicationContext = trimUID(v)
		case itemPresentationAC:
			if len(v) < 4 {
				return invalid("presentation context result item of %d bytes", len(v))
			}
			r := ContextResult{ID: v[0], Result: v[2]}
			seen := false
			err := forItems(v[4:], "presentation context result", func(typ byte, v []byte) error {
				if typ != itemTransferSyntax && typ != itemAbstractSyntax {
					return nil // unrecognized: skipped (PS3.8 9.3)
				}
				if typ != itemTransferSyntax || seen {
					return &PDUError{Reason: AbortUnexpectedParameter, Msg: fmt.Sprintf("presentation context result %d: unexpected sub-item 0x%02x", r.ID, typ)}
				}
				seen = true
				r.TransferSyntax = trimUID(v)
				return nil
			})
			if err != nil {
				return err
			}
			ac.PresentationContexts = append(ac.PresentationContexts, r)
		case itemUserInfo:
			return parseUserInfo(v, &ac.UserInfo)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ac, nil
}

func parseUserInfo(b []byte, ui *UserInfo) error {
	return forItems(b, "user information", func(typ byte, v []byte) error {
		switch typ {
		case subMaxLength:
			if len(v) != 4 {
				return invalid("maximum length sub-item of %d bytes", len(v))
			}
			ui.MaxPDULength = binary.BigEndian.Uint32(v)
		case subImplementationClass:
			ui.ImplementationClassUID = trimUID(v)
		case subImplementationVer:
			ui.ImplementationVersion = strings.TrimRight(string(v), " \x00")
		case subAsyncOps:
			if len(v) != 4 {
				return invalid("asynchronous operations window sub-item of %d bytes", len(v))
			}
			ui.AsyncOps = &AsyncOps{Invoked: binary.BigEndian.Uint16(v), Performed: binary.BigEndian.Uint16(v[2:])}
		case subRoleSelection:
			if len(v) < 2 {
				return invalid("role selection sub-item of %d bytes", len(v))
			}
			n := int(binary.BigEndian.Uint16(v))
			if len(v) != 2+n+2 {
				return invalid("role selection sub-item: UID length %d in %d bytes", n, len(v))
			}
			ui.Roles = append(ui.Roles, RoleSelection{SOPClassUID: trimUID(v[2 : 2+n]), SCU: v[2+n] != 0, SCP: v[3+n] != 0})
		}
		// Extended negotiation (0x56, 0x57), user identity (0x58, 0x59)
		// and unknown sub-items are skipped: not negotiated.
		return nil
	})
}

// PDUWriter writes PDUs to a stream, each with one Write call.
type PDUWriter struct {
	w   io.Writer
	buf []byte
}

// NewPDUWriter returns a PDUWriter writing to w.
func NewPDUWriter(w io.Writer) *PDUWriter { return &PDUWriter{w: w} }

// WritePDU encodes p and writes it.
func (w *PDUWriter) WritePDU(p PDU) error {
	b, err := AppendPDU(w.buf[:0], p)
	if err != nil {
		return err
	}
	w.buf = b
	if cap(w.buf) > 256<<10 {
		w.buf = nil // do not keep a large buffer around
	}
	_, err = w.w.Write(b)
	return err
}

// AppendPDU appends the encoding of p to dst.
func AppendPDU(dst []byte, p PDU) ([]byte, error) {
	start := len(dst)
	dst = append(dst, p.Type(), 0, 0, 0, 0, 0)
	var err error
	switch p := p.(type) {
	case *AssociateRQ:
		dst, err = appendAssocHeader(dst, p.ProtocolVersion, p.CalledAE, p.CallingAE)
		if err == nil {
			dst, err = appendItem(dst, itemApplicationContext, []byte(p.ApplicationContext))
		}
		for _, pc := range p.PresentationContexts {
			if err != nil {
				break
			}
			var v []byte
			v = append(v, pc.ID, 0, 0, 0)
			v, err = appendItem(v, itemAbstractSyntax, []byte(pc.AbstractSyntax))
			for _, ts := range pc.TransferSyntaxes {
				if err == nil {
					v, err = appendItem(v, itemTransferSyntax, []byte(ts))
				}
			}
			if err == nil {
				dst, err = appendItem(dst, itemPresentationRQ, v)
			}
		}
		if err == nil {
			dst, err = appendUserInfo(dst, &p.UserInfo)
		}
	case *AssociateAC:
		dst, err = appendAssocHeader(dst, p.ProtocolVersion, p.CalledAE, p.CallingAE)
		if err == nil {
			dst, err = appendItem(dst, itemApplicationContext, []byte(p.ApplicationContext))
		}
		for _, r := range p.PresentationContexts {
			if err != nil {
				break
			}
			v := []byte{r.ID, 0, r.Result, 0}
			v, err = appendItem(v, itemTransferSyntax, []byte(r.TransferSyntax))
			if err == nil {
				dst, err = appendItem(dst, itemPresentationAC, v)
			}
		}
		if err == nil {
			dst, err = appendUserInfo(dst, &p.UserInfo)
		}
	case *AssociateRJ:
		dst = append(dst, 0, p.Result, p.Source, p.Reason)
	case *PDataTF:
		for _, v := range p.Items {
			if uint64(len(v.Data))+2 > 0xFFFFFFFF-6 {
				return nil, errors.New("dicom: PDV too long")
			}
			mch := byte(0)
			if v.Command {
				mch |= 1
			}
			if v.Last {
				mch |= 2
			}
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v.Data)+2))
			dst = append(dst, v.ContextID, mch)
			dst = append(dst, v.Data...)
		}
	case *ReleaseRQ, *ReleaseRP:
		dst = append(dst, 0, 0, 0, 0)
	case *Abort:
		dst = append(dst, 0, 0, p.Source, p.Reason)
	default:
		return nil, fmt.Errorf("dicom: unknown PDU %T", p)
	}
	if err != nil {
		return nil, err
	}
	n := len(dst) - start - 6
	if uint64(n) > 0xFFFFFFFF {
		return nil, errors.New("dicom: PDU too long")
	}
	binary.BigEndian.PutUint32(dst[start+2:], uint32(n))
	return dst, nil
}

func appendAssocHeader(dst []byte, version uint16, called, calling string) ([]byte, error) {
	if len(called) > 16 || len(calling) > 16 {
		return nil, fmt.Errorf("dicom: AE title longer than 16 bytes")
	}
	dst = binary.BigEndian.AppendUint16(dst, version)
	dst = append(dst, 0, 0)
	// 16-byte fields, space padded: by bytes, not by characters as
	// fmt's width would (a UTF-8 title would overflow its field).
	dst = append(append(dst, called...), strings.Repeat(" ", 16-len(called))...)
	dst = append(append(dst, calling...), strings.Repeat(" ", 16-len(calling))...)
	return append(dst, make([]byte, 32)...), nil
}

func appendItem(dst []byte, typ byte, v []byte) ([]byte, error) {
	if len(v) > 0xFFFF {
		return nil, fmt.Errorf("dicom: item 0x%02x of %d bytes is too long", typ, len(v))
	}
	dst = append(dst, typ, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
	return append(dst, v...), nil
}

func appendUserInfo(dst []byte, ui *UserInfo) ([]byte, error) {
	var v []byte
	v, _ = appendItem(v, subMaxLength, binary.BigEndian.AppendUint32(nil, ui.MaxPDULength))
	var err error
	if ui.ImplementationClassUID != "" {
		v, err = appendItem(v, subImplementationClass, []byte(ui.ImplementationClassUID))
	}
	if err == nil && ui.AsyncOps != nil {
		v, err = appendItem(v, subAsyncOps, binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, ui.AsyncOps.Invoked), ui.AsyncOps.Performed))
	}
	for _, r := range ui.Roles {
		if err != nil {
			break
		}
		if len(r.SOPClassUID) > 0xFFFF-4 {
			return nil, errors.New("dicom: role selection UID too long")
		}
		s := binary.BigEndian.AppendUint16(nil, uint16(len(r.SOPClassUID)))
		s = append(s, r.SOPClassUID...)
		s = append(s, b2i(r.SCU), b2i(r.SCP))
		v, err = appendItem(v, subRoleSelection, s)
	}
	if err == nil && ui.ImplementationVersion != "" {
		v, err = appendItem(v, subImplementationVer, []byte(ui.ImplementationVersion))
	}
	if err != nil {
		return nil, err
	}
	return appendItem(dst, itemUserInfo, v)
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}
