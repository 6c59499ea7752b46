package dicom

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FileMeta is the part of a Part 10 file meta information group (0002)
// that networking needs.
type FileMeta struct {
	SOPClassUID            string // (0002,0002) Media Storage SOP Class UID
	SOPInstanceUID         string // (0002,0003) Media Storage SOP Instance UID
	TransferSyntax         string // (0002,0010)
	ImplementationClassUID string // (0002,0012)
	ImplementationVersion  string // (0002,0013)
	SourceAE               string // (0002,0016)
}

// ErrNotPart10 is returned by ReadPart10 for input without the 128-byte
// preamble and "DICM" prefix.
var ErrNotPart10 = errors.New("dicom: not a DICOM Part 10 file")

// maxMetaSize bounds the file meta group ReadPart10 accepts.
const maxMetaSize = 64 << 10

// ReadPart10 reads the preamble, prefix and file meta group of a Part 10
// file and returns the meta and a reader of the data set that follows,
// byte for byte (still deflated for the Deflated transfer syntax). The
// data set reader reads from r through a buffer.
func ReadPart10(r io.Reader) (*FileMeta, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, 132)
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotPart10, err)
	}
	if string(head[128:]) != "DICM" {
		return nil, nil, ErrNotPart10
	}
	meta := &FileMeta{}
	read := 0
	for {
		tag, err := br.Peek(2)
		if err == io.EOF {
			break // a file with only the meta group
		}
		if err != nil {
			return nil, nil, fmt.Errorf("dicom: reading the file meta: %w", err)
		}
		if binary.LittleEndian.Uint16(tag) != 0x0002 {
			break
		}
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return nil, nil, fmt.Errorf("dicom: file meta element header at byte %d: %w", 132+read, noEOF(err))
		}
		elem := binary.LittleEndian.Uint16(h[2:])
		vr := string(h[4:6])
		var n uint32
		hl := 8
		switch vr {
		case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
			var l [4]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				return nil, nil, fmt.Errorf("dicom: file meta element (0002,%04X): %w", elem, noEOF(err))
			}
			n = binary.LittleEndian.Uint32(l[:])
			hl = 12
		default:
			n = uint32(binary.LittleEndian.Uint16(h[6:]))
		}
		read += hl
		if uint64(read)+uint64(n) > maxMetaSize {
			return nil, nil, fmt.Errorf("dicom: file meta group larger than %d bytes", maxMetaSize)
		}
		v := make([]byte, n)
		if _, err := io.ReadFull(br, v); err != nil {
			return nil, nil, fmt.Errorf("dicom: file meta element (0002,%04X): %w", elem, noEOF(err))
		}
		read += int(n)
		switch elem {
		case 0x0002:
			meta.SOPClassUID = trimUID(v)
		case 0x0003:
			meta.SOPInstanceUID = trimUID(v)
		case 0x0010:
			meta.TransferSyntax = trimUID(v)
		case 0x0012:
			meta.ImplementationClassUID = trimUID(v)
		case 0x0013:
			meta.ImplementationVersion = strings.TrimRight(string(v), " \x00")
		case 0x0016:
			meta.SourceAE = strings.Trim(string(v), " \x00")
		}
	}
	if meta.TransferSyntax == "" {
		return nil, nil, errors.New("dicom: file meta lacks the transfer syntax (0002,0010)")
	}
	return meta, br, nil
}

// AppendPart10Header appends the 128-byte preamble, "DICM" and the file
// meta group for m (Explicit VR Little Endian, with its group length and
// version 00\01). UIDs are padded with NUL, other strings with a space.
func AppendPart10Header(dst []byte, m *FileMeta) []byte {
	dst = append(dst, make([]byte, 128)...)
	dst = append(dst, "DICM"...)
	var g []byte
	g = binary.LittleEndian.AppendUint32(append(g, 0x02, 0x00, 0x01, 0x00, 'O', 'B', 0, 0), 2)
	g = append(g, 0x00, 0x01)
	str := func(elem uint16, vr, s string, pad byte) {
		if s == "" {
			return
		}
		if len(s)%2 == 1 {
			s += string(pad)
		}
		g = binary.LittleEndian.AppendUint16(g, 0x0002)
		g = binary.LittleEndian.AppendUint16(g, elem)
		g = append(g, vr...)
		g = binary.LittleEndian.AppendUint16(g, uint16(len(s)))
		g = append(g, s...)
	}
	str(0x0002, "UI", m.SOPClassUID, 0)
	str(0x0003, "UI", m.SOPInstanceUID, 0)
	str(0x0010, "UI", m.TransferSyntax, 0)
	str(0x0012, "UI", m.ImplementationClassUID, 0)
	str(0x0013, "SH", m.ImplementationVersion, ' ')
	str(0x0016, "AE", m.SourceAE, ' ')
	dst = append(dst, 0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(g)))
	return append(dst, g...)
}

// Part10 returns the bytes of a Part 10 file holding dataset.
func Part10(m *FileMeta, dataset []byte) []byte {
	var b bytes.Buffer
	b.Write(AppendPart10Header(nil, m))
	b.Write(dataset)
	return b.Bytes()
}
