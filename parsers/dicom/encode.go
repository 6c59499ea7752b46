package dicom

import (
	"encoding/binary"
	"slices"
)

// Encode writes the dataset (no preamble, no file meta header) in
// Implicit VR Little Endian, Explicit VR Little Endian or Explicit VR Big
// Endian. Elements are written in tag order at every level; sequences and
// items get defined lengths (except, in Implicit VR, sequences whose tag
// the dictionary does not know as SQ, which get an undefined length so
// they read back as sequences); encapsulated pixel data keeps its
// fragments with an undefined length. Odd-length values are padded (space for
// text, NUL otherwise). Group length elements are written as they are.
func (d *Dataset) Encode(transferSyntaxUID string) ([]byte, error) {
	syn, ok := lookupSyntax(transferSyntaxUID, false)
	if !ok {
		return nil, &EncodeError{Msg: "transfer syntax " + quoteUID(transferSyntaxUID) + " not supported", Err: ErrTransferSyntax}
	}
	e := &encoder{syn: syn}
	return e.dataset(nil, d, 0)
}

type encoder struct {
	syn syntax
}

func (e *encoder) dataset(out []byte, d *Dataset, depth int) ([]byte, error) {
	if d == nil {
		return out, nil
	}
	if depth > MaxDepth {
		return nil, &EncodeError{Msg: "sequences nested too deeply", Err: ErrMalformed}
	}
	els := d.Elements
	if !slices.IsSortedFunc(els, cmpElem) {
		els = slices.Clone(els)
		slices.SortStableFunc(els, cmpElem)
	}
	for i, el := range els {
		if el == nil {
			continue
		}
		if i > 0 && els[i-1] != nil && els[i-1].Tag == el.Tag {
			return nil, &EncodeError{Tag: el.Tag, Msg: "duplicate tag", Err: ErrMalformed}
		}
		var err error
		out, err = e.element(out, el, depth)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *encoder) tag(out []byte, t Tag) []byte {
	out = e.syn.bo.AppendUint16(out, t.Group())
	return e.syn.bo.AppendUint16(out, t.Element())
}

// header appends tag, VR and length.
func (e *encoder) header(out []byte, t Tag, vr string, length uint32) ([]byte, error) {
	out = e.tag(out, t)
	if e.syn.implicit {
		return e.syn.bo.AppendUint32(out, length), nil
	}
	out = append(out, vr[0], vr[1])
	if vrs[vr].long {
		out = append(out, 0, 0)
		return e.syn.bo.AppendUint32(out, length), nil
	}
	if length > 0xFFFF {
		return nil, &EncodeError{Tag: t, Msg: "value longer than 65535 bytes for VR " + vr, Err: ErrTooLarge}
	}
	return e.syn.bo.AppendUint16(out, uint16(length)), nil
}

func (e *encoder) element(out []byte, el *Element, depth int) ([]byte, error) {
	vr := el.VR
	if vr == "" {
		vr = DictVR(el.Tag)
	}
	info, ok := vrs[vr]
	if !ok {
		return nil, &EncodeError{Tag: el.Tag, Msg: "unknown VR", Err: ErrMalformed}
	}
	if el.Tag == TagItem || el.Tag == TagItemDelimitationItem || el.Tag == TagSequenceDelimitationItem {
		return nil, &EncodeError{Tag: el.Tag, Msg: "item tag as an element", Err: ErrMalformed}
	}
	switch {
	case vr == "SQ" || (el.Items != nil && vr == "UN"):
		var body []byte
		for _, it := range el.Items {
			item, err := e.dataset(nil, it, depth+1)
			if err != nil {
				return nil, err
			}
			if uint64(len(item)) >= undefinedLength {
				return nil, &EncodeError{Tag: el.Tag, Msg: "item too long", Err: ErrTooLarge}
			}
			body = e.tag(body, TagItem)
			body = e.syn.bo.AppendUint32(body, uint32(len(item)))
			body = append(body, item...)
		}
		if e.syn.implicit && DictVR(el.Tag) != "SQ" {
			// A reader can only tell this is a sequence from an
			// undefined length (PS3.5 7.5.1), so write it that way.
			out = e.tag(out, el.Tag)
			out = e.syn.bo.AppendUint32(out, undefinedLength)
			out = append(out, body...)
			out = e.tag(out, TagSequenceDelimitationItem)
			return e.syn.bo.AppendUint32(out, 0), nil
		}
		if uint64(len(body)) >= undefinedLength {
			return nil, &EncodeError{Tag: el.Tag, Msg: "sequence too long", Err: ErrTooLarge}
		}
		out, err := e.header(out, el.Tag, "SQ", uint32(len(body)))
		if err != nil {
			return nil, err
		}
		return append(out, body...), nil
	case el.Fragments != nil:
		if vr != "OB" && vr != "OW" {
			return nil, &EncodeError{Tag: el.Tag, Msg: "fragments on a " + vr + " element", Err: ErrMalformed}
		}
		out, err := e.header(out, el.Tag, vr, undefinedLength)
		if err != nil {
			return nil, err
		}
		for _, f := range el.Fragments {
			n := len(f) + len(f)%2
			if uint64(n) >= undefinedLength {
				return nil, &EncodeError{Tag: el.Tag, Msg: "fragment too long", Err: ErrTooLarge}
			}
			out = e.tag(out, TagItem)
			out = e.syn.bo.AppendUint32(out, uint32(n))
			out = append(out, f...)
			if len(f)%2 == 1 {
				out = append(out, 0)
			}
		}
		out = e.tag(out, TagSequenceDelimitationItem)
		return e.syn.bo.AppendUint32(out, 0), nil
	}
	n := len(el.Value) + len(el.Value)%2
	if uint64(n) >= undefinedLength {
		return nil, &EncodeError{Tag: el.Tag, Msg: "value too long", Err: ErrTooLarge}
	}
	out, err := e.header(out, el.Tag, vr, uint32(n))
	if err != nil {
		return nil, err
	}
	start := len(out)
	out = append(out, el.Value...)
	if len(el.Value)%2 == 1 {
		out = append(out, info.pad)
	}
	if info.swap > 1 && e.syn.bo == binary.BigEndian {
		swapUnit(out[start:], int(info.swap))
	}
	return out, nil
}
