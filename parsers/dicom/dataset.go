package dicom

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Element is one data element. Value holds the raw value bytes as encoded
// (padding kept; binary VRs little-endian, see the package comment). A
// sequence (VR "SQ") has Items instead; encapsulated pixel data (OB/OW of
// undefined length) has Fragments, the Basic Offset Table first.
type Element struct {
	Tag       Tag
	VR        string
	Value     []byte
	Items     []*Dataset
	Fragments [][]byte
}

// Dataset is a list of elements. Decode returns it sorted by tag; Encode
// sorts a copy before writing.
type Dataset struct {
	Elements []*Element
}

// Get returns the element with tag t, or nil.
func (d *Dataset) Get(t Tag) *Element {
	if d == nil {
		return nil
	}
	for _, e := range d.Elements {
		if e.Tag == t {
			return e
		}
	}
	return nil
}

// Has reports whether the dataset holds tag t (empty or not).
func (d *Dataset) Has(t Tag) bool { return d.Get(t) != nil }

// Set replaces the element with the same tag or inserts e in tag order.
func (d *Dataset) Set(e *Element) {
	if !slices.IsSortedFunc(d.Elements, cmpElem) {
		for j, x := range d.Elements {
			if x.Tag == e.Tag {
				d.Elements[j] = e
				return
			}
		}
		d.Elements = append(d.Elements, e)
		return
	}
	i, found := slices.BinarySearchFunc(d.Elements, e, cmpElem)
	if found {
		d.Elements[i] = e
		return
	}
	d.Elements = slices.Insert(d.Elements, i, e)
}

// Remove deletes the element with tag t, if any.
func (d *Dataset) Remove(t Tag) {
	d.Elements = slices.DeleteFunc(d.Elements, func(e *Element) bool { return e.Tag == t })
}

func cmpElem(a, b *Element) int {
	switch {
	case a.Tag < b.Tag:
		return -1
	case a.Tag > b.Tag:
		return 1
	}
	return 0
}

// Sort orders the elements by tag (stable), recursively.
func (d *Dataset) Sort() {
	slices.SortStableFunc(d.Elements, cmpElem)
	for _, e := range d.Elements {
		for _, it := range e.Items {
			it.Sort()
		}
	}
}

// SetEmpty sets a zero-length element (a universal key or an unknown
// value in a response). vr "" means the dictionary VR.
func (d *Dataset) SetEmpty(t Tag, vr string) {
	if vr == "" {
		vr = DictVR(t)
	}
	e := &Element{Tag: t, VR: vr}
	if vr == "SQ" {
		e.Items = []*Dataset{}
	}
	d.Set(e)
}

// SetSequence sets a sequence element with the given items.
func (d *Dataset) SetSequence(t Tag, items ...*Dataset) {
	if items == nil {
		items = []*Dataset{}
	}
	d.Set(&Element{Tag: t, VR: "SQ", Items: items})
}

// SetText sets t to the text s encoded for vr ("" means the dictionary
// VR): character strings in cs (nil: default repertoire) padded to even
// length; numbers given as decimal text (values separated by '\') for the
// binary VRs US, SS, UL, SL, FL, FD, SV, UV; AT as "ggggeeee".
func (d *Dataset) SetText(t Tag, vr string, s string, cs *Charset) error {
	if vr == "" {
		vr = DictVR(t)
	}
	v, err := encodeText(s, vr, cs)
	if err != nil {
		if ce, ok := err.(*CharsetError); ok {
			ce.Tag = t
			return ce
		}
		return &EncodeError{Tag: t, Msg: err.Error(), Err: ErrValue}
	}
	d.Set(&Element{Tag: t, VR: vr, Value: v})
	return nil
}

// SetStrings is SetText with the values joined by '\'.
func (d *Dataset) SetStrings(t Tag, vr string, values []string, cs *Charset) error {
	return d.SetText(t, vr, strings.Join(values, `\`), cs)
}

func encodeText(s, vr string, cs *Charset) ([]byte, error) {
	info, ok := vrs[vr]
	if !ok || vr == "SQ" {
		return nil, &EncodeError{Msg: "VR " + vr + " cannot hold text", Err: ErrValue}
	}
	if info.text {
		v, err := cs.Encode(s, vr)
		if err != nil {
			return nil, err
		}
		if len(v)%2 == 1 {
			v = append(v, info.pad)
		}
		return v, nil
	}
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, f := range strings.Split(s, `\`) {
		f = strings.TrimSpace(f)
		var err error
		switch vr {
		case "US", "OW":
			var n uint64
			n, err = strconv.ParseUint(f, 10, 16)
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
		case "SS":
			var n int64
			n, err = strconv.ParseInt(f, 10, 16)
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
		case "UL", "OL":
			var n uint64
			n, err = strconv.ParseUint(f, 10, 32)
			out = binary.LittleEndian.AppendUint32(out, uint32(n))
		case "SL":
			var n int64
			n, err = strconv.ParseInt(f, 10, 32)
			out = binary.LittleEndian.AppendUint32(out, uint32(n))
		case "UV", "OV":
			var n uint64
			n, err = strconv.ParseUint(f, 10, 64)
			out = binary.LittleEndian.AppendUint64(out, n)
		case "SV":
			var n int64
			n, err = strconv.ParseInt(f, 10, 64)
			out = binary.LittleEndian.AppendUint64(out, uint64(n))
		case "FL", "OF":
			var x float64
			x, err = strconv.ParseFloat(f, 32)
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(x)))
		case "FD", "OD":
			var x float64
			x, err = strconv.ParseFloat(f, 64)
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
		case "AT":
			t, ok := ParseTag(f)
			if !ok {
				return nil, &EncodeError{Msg: "not a tag", Err: ErrValue}
			}
			out = binary.LittleEndian.AppendUint16(out, t.Group())
			out = binary.LittleEndian.AppendUint16(out, t.Element())
		default: // OB, UN: not text
			return nil, &EncodeError{Msg: "VR " + vr + " cannot hold text", Err: ErrValue}
		}
		if err != nil {
			return nil, &EncodeError{Msg: "not a number for " + vr, Err: ErrValue}
		}
	}
	return out, nil
}

// String returns the element's value as text, decoded with cs (nil means
// the default repertoire), with padding trimmed: trailing spaces and NULs
// always, leading spaces where PS3.5 makes them insignificant. Binary
// numbers are formatted in decimal and joined by '\'. An absent or empty
// element gives "".
func (d *Dataset) String(t Tag, cs *Charset) (string, error) {
	e := d.Get(t)
	if e == nil {
		return "", nil
	}
	s, err := e.Text(cs)
	if ce, ok := err.(*CharsetError); ok {
		ce.Tag = t
	}
	return s, err
}

// Strings returns the values of a multi-valued element split on '\', each
// trimmed as String does. An absent or empty element gives nil.
func (d *Dataset) Strings(t Tag, cs *Charset) ([]string, error) {
	e := d.Get(t)
	if e == nil || (len(e.Value) == 0 && len(e.Items) == 0) {
		return nil, nil
	}
	s, err := d.String(t, cs)
	if err != nil {
		return nil, err
	}
	if !multiValued(e.VR) && vrs[e.VR].text {
		return []string{s}, nil
	}
	parts := strings.Split(s, `\`)
	for i, p := range parts {
		parts[i] = trimText(p, e.VR)
	}
	return parts, nil
}

// Int returns the first value of a US, SS, UL, SL or IS element.
func (d *Dataset) Int(t Tag) (int64, bool) {
	e := d.Get(t)
	if e == nil {
		return 0, false
	}
	switch e.VR {
	case "US", "SS", "UL", "SL", "UV", "SV", "IS", "DS":
	default:
		return 0, false
	}
	s, err := e.Text(nil)
	if err != nil || s == "" {
		return 0, false
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || e.VR != "DS" {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

// Text returns the element's value as text; see Dataset.String.
func (e *Element) Text(cs *Charset) (string, error) {
	info, ok := vrs[e.VR]
	if !ok || e.VR == "SQ" || e.VR == "OB" || e.VR == "UN" {
		if len(e.Value) == 0 {
			return "", nil
		}
		if e.VR == "UN" || !ok {
			// Implicit VR data for a tag outside the dictionary: treat it
			// as default-repertoire text when it is.
			v := bytes.TrimRight(e.Value, " \x00")
			if err := asciiCheck(v, "UN"); err != nil {
				return "", err
			}
			return trimText(string(v), "LO"), nil
		}
		return "", &EncodeError{Tag: e.Tag, Msg: "VR " + e.VR + " is not text", Err: ErrValue}
	}
	if info.text {
		v := bytes.TrimRight(e.Value, " \x00")
		s, err := cs.Decode(v, e.VR)
		if err != nil {
			return "", err
		}
		return trimText(s, e.VR), nil
	}
	return formatBinary(e.Value, e.VR), nil
}

func asciiCheck(b []byte, vr string) error {
	for i, c := range b {
		if c >= 0x80 {
			return &CharsetError{Charset: "default repertoire", Offset: i, Msg: "byte outside the default repertoire in " + vr}
		}
	}
	return nil
}

func trimText(s, vr string) string {
	s = strings.TrimRight(s, " \x00")
	if trimLeading(vr) {
		s = strings.TrimLeft(s, " ")
	}
	return s
}

func formatBinary(v []byte, vr string) string {
	var b strings.Builder
	le := binary.LittleEndian
	unit := int(vrs[vr].swap)
	if vr == "AT" {
		unit = 4
	}
	for i := 0; unit > 0 && i+unit <= len(v); i += unit {
		if i > 0 {
			b.WriteByte('\\')
		}
		w := v[i : i+unit]
		switch vr {
		case "US", "OW":
			b.WriteString(strconv.FormatUint(uint64(le.Uint16(w)), 10))
		case "SS":
			b.WriteString(strconv.FormatInt(int64(int16(le.Uint16(w))), 10))
		case "UL", "OL":
			b.WriteString(strconv.FormatUint(uint64(le.Uint32(w)), 10))
		case "SL":
			b.WriteString(strconv.FormatInt(int64(int32(le.Uint32(w))), 10))
		case "UV", "OV":
			b.WriteString(strconv.FormatUint(le.Uint64(w), 10))
		case "SV":
			b.WriteString(strconv.FormatInt(int64(le.Uint64(w)), 10))
		case "FL", "OF":
			b.WriteString(strconv.FormatFloat(float64(math.Float32frombits(le.Uint32(w))), 'g', -1, 32))
		case "FD", "OD":
			b.WriteString(strconv.FormatFloat(math.Float64frombits(le.Uint64(w)), 'g', -1, 64))
		case "AT":
			t := NewTag(le.Uint16(w[0:2]), le.Uint16(w[2:4]))
			s := t.String()
			b.WriteString(s[1:5] + s[6:10])
		}
	}
	return b.String()
}

// Equal reports whether two datasets hold the same elements in the same
// order with the same VRs and bytes.
func (d *Dataset) Equal(o *Dataset) bool {
	if d == nil || o == nil {
		return d == o
	}
	if len(d.Elements) != len(o.Elements) {
		return false
	}
	for i, a := range d.Elements {
		b := o.Elements[i]
		if a.Tag != b.Tag || a.VR != b.VR || !bytes.Equal(a.Value, b.Value) ||
			len(a.Items) != len(b.Items) || len(a.Fragments) != len(b.Fragments) ||
			(a.Items == nil) != (b.Items == nil) || (a.Fragments == nil) != (b.Fragments == nil) {
			return false
		}
		for j := range a.Items {
			if !a.Items[j].Equal(b.Items[j]) {
				return false
			}
		}
		for j := range a.Fragments {
			if !bytes.Equal(a.Fragments[j], b.Fragments[j]) {
				return false
			}
		}
	}
	return true
}
