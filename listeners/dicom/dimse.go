package dicom

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Command Field values (PS3.7 E.1).
const (
	CStoreRQ  uint16 = 0x0001
	CStoreRSP uint16 = 0x8001
	CGetRQ    uint16 = 0x0010
	CFindRQ   uint16 = 0x0020
	CFindRSP  uint16 = 0x8020
	CMoveRQ   uint16 = 0x0021
	CEchoRQ   uint16 = 0x0030
	CEchoRSP  uint16 = 0x8030
	CCancelRQ uint16 = 0x0FFF
)

// Status codes used here (PS3.7 Annex C, PS3.4 B.2.3 and C.4.1.1.4).
const (
	StatusSuccess               uint16 = 0x0000
	StatusPending               uint16 = 0xFF00
	StatusPendingWarning        uint16 = 0xFF01 // optional keys not supported
	StatusCancel                uint16 = 0xFE00
	StatusSOPClassNotSupported  uint16 = 0x0122
	StatusUnrecognizedOperation uint16 = 0x0211
	StatusOutOfResources        uint16 = 0xA700
	StatusDataSetMismatch       uint16 = 0xA900 // data set / identifier does not match SOP class
	StatusCannotUnderstand      uint16 = 0xC000
)

// Priority values.
const (
	PriorityMedium uint16 = 0x0000
	PriorityHigh   uint16 = 0x0001
	PriorityLow    uint16 = 0x0002
)

// noDataSet is the CommandDataSetType value meaning "no data set".
const noDataSet = 0x0101

// maxCommandSize bounds a reassembled command set; real ones are a few
// hundred bytes.
const maxCommandSize = 64 << 10

// Command is a DIMSE command set (group 0000). Only the elements of the
// C-ECHO, C-STORE, C-FIND and C-CANCEL messages are kept; others are
// skipped when decoding.
type Command struct {
	Field                     uint16 // (0000,0100)
	AffectedSOPClassUID       string // (0000,0002)
	MessageID                 uint16 // (0000,0110), requests
	MessageIDBeingRespondedTo uint16 // (0000,0120), responses and C-CANCEL
	Priority                  uint16 // (0000,0700), C-STORE/C-FIND requests
	HasDataSet                bool   // (0000,0800) != 0x0101
	Status                    uint16 // (0000,0900), responses
	ErrorComment              string // (0000,0902), failures
	AffectedSOPInstanceUID    string // (0000,1000)
	MoveOriginatorAE          string // (0000,1030)
	MoveOriginatorMessageID   uint16 // (0000,1031), with MoveOriginatorAE
}

// IsResponse reports whether c is a response (high bit of Command Field).
func (c *Command) IsResponse() bool { return c.Field&0x8000 != 0 }

func (c *Command) String() string {
	if c.IsResponse() {
		return fmt.Sprintf("%s(msg %d, status 0x%04X)", commandName(c.Field), c.MessageIDBeingRespondedTo, c.Status)
	}
	return fmt.Sprintf("%s(msg %d)", commandName(c.Field), c.MessageID)
}

func commandName(f uint16) string {
	switch f {
	case CStoreRQ:
		return "C-STORE-RQ"
	case CStoreRSP:
		return "C-STORE-RSP"
	case CFindRQ:
		return "C-FIND-RQ"
	case CFindRSP:
		return "C-FIND-RSP"
	case CEchoRQ:
		return "C-ECHO-RQ"
	case CEchoRSP:
		return "C-ECHO-RSP"
	case CCancelRQ:
		return "C-CANCEL-RQ"
	case CGetRQ:
		return "C-GET-RQ"
	case CMoveRQ:
		return "C-MOVE-RQ"
	}
	return fmt.Sprintf("command 0x%04X", f)
}

// Encode returns the command set in Implicit VR Little Endian, led by its
// Command Group Length. Which elements appear follows the message type.
func (c *Command) Encode() []byte {
	b := make([]byte, 12, 160)
	str := func(elem uint16, s string, pad byte) {
		if len(s)%2 == 1 {
			s += string(pad)
		}
		b = appendElem(b, elem, []byte(s))
	}
	us := func(elem, v uint16) { b = appendElem(b, elem, binary.LittleEndian.AppendUint16(nil, v)) }
	resp := c.IsResponse()
	if c.AffectedSOPClassUID != "" {
		str(0x0002, c.AffectedSOPClassUID, 0)
	}
	us(0x0100, c.Field)
	if c.Field == CCancelRQ || resp {
		us(0x0120, c.MessageIDBeingRespondedTo)
	} else {
		us(0x0110, c.MessageID)
	}
	if !resp && (c.Field == CStoreRQ || c.Field == CFindRQ || c.Field == CGetRQ || c.Field == CMoveRQ) {
		us(0x0700, c.Priority)
	}
	if c.HasDataSet {
		us(0x0800, 0x0000)
	} else {
		us(0x0800, noDataSet)
	}
	if resp {
		us(0x0900, c.Status)
		if c.ErrorComment != "" {
			str(0x0902, c.ErrorComment, ' ')
		}
	}
	if c.AffectedSOPInstanceUID != "" {
		str(0x1000, c.AffectedSOPInstanceUID, 0)
	}
	if c.MoveOriginatorAE != "" {
		str(0x1030, c.MoveOriginatorAE, ' ')
		us(0x1031, c.MoveOriginatorMessageID)
	}
	// (0000,0000) UL group length: everything after it.
	binary.LittleEndian.PutUint16(b[0:], 0)
	binary.LittleEndian.PutUint16(b[2:], 0)
	binary.LittleEndian.PutUint32(b[4:], 4)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-12))
	return b
}

func appendElem(b []byte, elem uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, 0x0000)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// CommandError reports a command set that cannot be decoded.
type CommandError struct {
	Offset int
	Msg    string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("dicom: command set at byte %d: %s", e.Offset, e.Msg)
}

// Unwrap makes errors.Is(err, ErrProtocol) true.
func (e *CommandError) Unwrap() error { return ErrProtocol }

// DecodeCommand parses a command set (Implicit VR Little Endian, group
// 0000 only). Command Field and Command Data Set Type are required;
// unknown group 0000 elements are skipped.
func DecodeCommand(b []byte) (*Command, error) {
	c := &Command{}
	var haveField, haveType bool
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return nil, &CommandError{off, "truncated element header"}
		}
		group := binary.LittleEndian.Uint16(b[off:])
		elem := binary.LittleEndian.Uint16(b[off+2:])
		n := binary.LittleEndian.Uint32(b[off+4:])
		if group != 0 {
			return nil, &CommandError{off, fmt.Sprintf("element (%04X,%04X) outside group 0000", group, elem)}
		}
		if uint64(n) > uint64(len(b)-off-8) {
			return nil, &CommandError{off, fmt.Sprintf("element (0000,%04X) length %d exceeds the command set", elem, n)}
		}
		v := b[off+8 : off+8+int(n)]
		u16 := func() (uint16, error) {
			if len(v) != 2 {
				return 0, &CommandError{off, fmt.Sprintf("element (0000,%04X) is US but has %d bytes", elem, len(v))}
			}
			return binary.LittleEndian.Uint16(v), nil
		}
		var err error
		switch elem {
		case 0x0002:
			c.AffectedSOPClassUID = trimUID(v)
		case 0x0100:
			c.Field, err = u16()
			haveField = true
		case 0x0110:
			c.MessageID, err = u16()
		case 0x0120:
			c.MessageIDBeingRespondedTo, err = u16()
		case 0x0700:
			c.Priority, err = u16()
		case 0x0800:
			var t uint16
			t, err = u16()
			c.HasDataSet = t != noDataSet
			haveType = true
		case 0x0900:
			c.Status, err = u16()
		case 0x0902:
			c.ErrorComment = strings.TrimRight(string(v), " \x00")
		case 0x1000:
			c.AffectedSOPInstanceUID = trimUID(v)
		case 0x1030:
			c.MoveOriginatorAE = strings.Trim(string(v), " \x00")
		case 0x1031:
			c.MoveOriginatorMessageID, err = u16()
		}
		if err != nil {
			return nil, err
		}
		off += 8 + int(n)
	}
	if !haveField || !haveType {
		return nil, &CommandError{len(b), "Command Field or Command Data Set Type missing"}
	}
	return c, nil
}

// StatusError is a DIMSE status other than success or pending, with its
// Error Comment. A FindHandler returns one to choose the final status; the
// Client returns one when a C-ECHO fails.
type StatusError struct {
	Status  uint16
	Comment string
}

func (e *StatusError) Error() string {
	if e.Comment == "" {
		return fmt.Sprintf("dicom: status 0x%04X", e.Status)
	}
	return fmt.Sprintf("dicom: status 0x%04X: %s", e.Status, e.Comment)
}

// ErrorComment makes s a valid Error Comment (LO): printable ASCII only,
// no backslash, at most 64 bytes.
func ErrorComment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			ch = '/'
		case ch < 0x20 || ch > 0x7E:
			ch = '?'
		}
		b.WriteByte(ch)
	}
	return strings.TrimSpace(b.String())
}
