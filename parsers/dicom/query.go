package dicom

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// MatchKind is how a C-FIND key matches (PS3.4 C.2.2.2).
type MatchKind uint8

const (
	// Universal: zero-length key (or "*"): every entity matches; the
	// attribute is returned.
	Universal MatchKind = iota
	// SingleValue: the value must be equal (PN: case-insensitively, see
	// Key.Fold; DA/TM/DT: within the date or time named).
	SingleValue
	// Wildcard: '*' and '?' in AE, CS, LO, LT, PN, SH, ST, UC, UR, UT.
	Wildcard
	// List: several values separated by '\' (List of UID Matching, and
	// multi-valued keys such as Modalities In Study): any may match.
	List
	// Range: DA, TM or DT "a-b", "-b", "a-".
	Range
	// Sequence: a sequence key with one item whose keys match one item
	// of the entity's sequence.
	Sequence
)

func (k MatchKind) String() string {
	return [...]string{"universal", "single value", "wildcard", "list", "range", "sequence"}[k]
}

// Key is one key of a C-FIND identifier.
type Key struct {
	Tag  Tag
	VR   string
	Kind MatchKind
	// Value is the decoded key text (trimmed); for Range the raw "a-b".
	Value string
	// Values holds the values of a List key.
	Values []string
	// Lo and Hi are the bounds of a Range key ("" when open).
	Lo, Hi string
	// Items are the keys of the single item of a Sequence key (and of a
	// sequence key with an empty item: all universal).
	Items []Key
	// Fold makes single-value and wildcard matching case-insensitive
	// (Cyrillic included, ё=е). ParseQuery sets it for PN.
	Fold bool
}

// Query is a parsed C-FIND identifier.
type Query struct {
	// Level is Query/Retrieve Level (0008,0052) in upper case; "" when
	// absent (as in Modality Worklist queries) or empty. It is not a key.
	Level string
	// LevelRequested records that (0008,0052) was in the identifier, so
	// responses echo it.
	LevelRequested bool
	// Charset is the identifier's character set (or the override given
	// to ParseQuery); responses need not use the same.
	Charset *Charset
	// CharsetRequested records that (0008,0005) was in the identifier.
	CharsetRequested bool
	// Keys are the other attributes of the identifier, in tag order.
	// Group length elements and groups below 0008 are ignored.
	Keys []Key
	// Location is the time zone for DT values without an offset (nil:
	// UTC). Set it before matching.
	Location *time.Location
}

// Key returns the key for tag t, or nil.
func (q *Query) Key(t Tag) *Key { return findKey(q.Keys, t) }

// Item returns the key for tag t inside a sequence key, or nil.
func (k *Key) Item(t Tag) *Key { return findKey(k.Items, t) }

func findKey(keys []Key, t Tag) *Key {
	for i := range keys {
		if keys[i].Tag == t {
			return &keys[i]
		}
	}
	return nil
}

// ParseQuery reads a C-FIND identifier. cs, when not nil, overrides the
// identifier's Specific Character Set (a device profile's setting);
// otherwise (0008,0005) is used. Errors are *QueryError (or the
// *CharsetError of an unknown Specific Character Set).
func ParseQuery(ds *Dataset, cs *Charset) (*Query, error) {
	q := &Query{Charset: cs}
	if cs == nil {
		var err error
		if q.Charset, err = CharsetFor(ds, ""); err != nil {
			return nil, err
		}
	}
	q.CharsetRequested = ds.Has(TagSpecificCharacterSet)
	if e := ds.Get(TagQueryRetrieveLevel); e != nil {
		lvl, err := e.Text(nil)
		if err != nil {
			return nil, &QueryError{Tag: TagQueryRetrieveLevel, Msg: "not text", Err: ErrValue}
		}
		q.Level = strings.ToUpper(lvl)
		q.LevelRequested = true
	}
	keys, err := parseKeys(ds, q.Charset, nil)
	if err != nil {
		return nil, err
	}
	q.Keys = keys
	return q, nil
}

func parseKeys(ds *Dataset, cs *Charset, path []Tag) ([]Key, error) {
	if ds == nil {
		return nil, nil
	}
	if ics, err := itemCharset(ds, cs); err != nil {
		return nil, err
	} else {
		cs = ics
	}
	var keys []Key
	for _, e := range ds.Elements {
		t := e.Tag
		if t.Group() < 0x0008 || t.IsGroupLength() || t == TagSpecificCharacterSet || t == TagQueryRetrieveLevel {
			continue
		}
		k, err := parseKey(e, cs, path)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	slices.SortStableFunc(keys, func(a, b Key) int { return cmpElem(&Element{Tag: a.Tag}, &Element{Tag: b.Tag}) })
	return keys, nil
}

// itemCharset returns the charset for a nested item: its own (0008,0005)
// when it has one, else the enclosing one.
func itemCharset(ds *Dataset, cs *Charset) (*Charset, error) {
	if !ds.Has(TagSpecificCharacterSet) || len(ds.Get(TagSpecificCharacterSet).Value) == 0 {
		return cs, nil
	}
	return CharsetFor(ds, "")
}

func parseKey(e *Element, cs *Charset, path []Tag) (Key, error) {
	vr := e.VR
	if vr == "UN" || vr == "" {
		vr = DictVR(e.Tag)
	}
	k := Key{Tag: e.Tag, VR: vr, Fold: vr == "PN"}
	qerr := func(msg string, err error) error {
		return &QueryError{Path: append([]Tag(nil), path...), Tag: e.Tag, Msg: msg, Err: err}
	}
	if vr == "SQ" || e.Items != nil {
		k.VR = "SQ"
		switch len(e.Items) {
		case 0:
			k.Kind = Universal
			return k, nil
		case 1:
			items, err := parseKeys(e.Items[0], cs, append(path, e.Tag))
			if err != nil {
				return k, err
			}
			k.Kind, k.Items = Sequence, items
			return k, nil
		}
		return k, qerr("a sequence key must have one item", ErrValue)
	}
	if len(e.Value) == 0 {
		return k, nil
	}
	if vr == "UN" || vr == "OB" || vr == "OW" {
		return k, nil // no matching on bytes: returned as universal
	}
	s, err := e.Text(cs)
	if err != nil {
		if errors.Is(err, ErrCharset) {
			return k, qerr("text does not decode in "+cs.Name(), ErrCharset)
		}
		return k, qerr("value is not valid for "+vr, ErrValue)
	}
	if s == "" || s == "*" {
		return k, nil
	}
	k.Value = s
	switch vr {
	case "DA", "TM":
		lo, hi, isRange, ok := splitRange(s)
		if !ok {
			return k, qerr("bad range", ErrValue)
		}
		if isRange {
			if lo == "" && hi == "" {
				return k, qerr("range with no bounds", ErrValue)
			}
			k.Kind, k.Lo, k.Hi = Range, lo, hi
			return k, nil
		}
		k.Kind = SingleValue
		return k, nil
	case "DT":
		lo, hi, ok := splitDTRange(s)
		if !ok {
			return k, qerr("bad range", ErrValue)
		}
		if lo != hi {
			k.Kind, k.Lo, k.Hi = Range, lo, hi
			return k, nil
		}
		k.Kind = SingleValue
		return k, nil
	}
	if multiValued(vr) && strings.Contains(s, `\`) {
		k.Kind = List
		for _, v := range strings.Split(s, `\`) {
			k.Values = append(k.Values, trimText(v, vr))
		}
		return k, nil
	}
	if wildcardVR(vr) && HasWildcard(s) {
		k.Kind = Wildcard
		return k, nil
	}
	k.Kind = SingleValue
	return k, nil
}

// wildcardVR reports whether PS3.4 C.2.2.2.4 allows wildcards for vr.
func wildcardVR(vr string) bool {
	switch vr {
	case "AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT":
		return true
	}
	return false
}

// Record is what a C-FIND provider knows about one entity (a worklist
// item, a study, a series, an instance): decoded text by tag (several
// values joined by '\'; numbers in decimal) and sequence items.
type Record struct {
	Values map[Tag]string
	Seqs   map[Tag][]Record
}

// Set stores a text value.
func (r *Record) Set(t Tag, s string) {
	if r.Values == nil {
		r.Values = map[Tag]string{}
	}
	r.Values[t] = s
}

// AddItem appends an item to the sequence t.
func (r *Record) AddItem(t Tag, item Record) {
	if r.Seqs == nil {
		r.Seqs = map[Tag][]Record{}
	}
	r.Seqs[t] = append(r.Seqs[t], item)
}

// RecordFromDataset converts a dataset to a Record, decoding text with cs
// (items with their own Specific Character Set use it). Elements holding
// bytes (OB, OW, UN, pixel data) are left out.
func RecordFromDataset(ds *Dataset, cs *Charset) (Record, error) {
	var r Record
	if ds == nil {
		return r, nil
	}
	cs, err := itemCharset(ds, cs)
	if err != nil {
		return r, err
	}
	for _, e := range ds.Elements {
		switch {
		case e.VR == "SQ" || e.Items != nil:
			if r.Seqs == nil {
				r.Seqs = map[Tag][]Record{}
			}
			items := []Record{}
			for _, it := range e.Items {
				ir, err := RecordFromDataset(it, cs)
				if err != nil {
					return r, err
				}
				items = append(items, ir)
			}
			r.Seqs[e.Tag] = items
		case e.VR == "OB" || e.VR == "OW" || e.VR == "UN" || e.Fragments != nil || e.VR == "OF" || e.VR == "OD" || e.VR == "OL" || e.VR == "OV":
		default:
			s, err := e.Text(cs)
			if err != nil {
				if ce, ok := err.(*CharsetError); ok {
					ce.Tag = e.Tag
				}
				return r, err
			}
			r.Set(e.Tag, s)
		}
	}
	return r, nil
}

// dateTimePairs are the DA/TM attribute pairs matched as one date-time
// range when both keys are given (PS3.4 C.2.2.2.5).
var dateTimePairs = [][2]Tag{
	{TagScheduledProcedureStepStartDate, TagScheduledProcedureStepStartTime},
	{0x00400004, 0x00400005}, // Scheduled Procedure Step End Date/Time
	{TagStudyDate, TagStudyTime},
	{TagSeriesDate, TagSeriesTime},
	{TagContentDate, TagContentTime},
	{0x00400244, 0x00400245}, // Performed Procedure Step Start Date/Time
}

// Match reports whether the record matches every key of the query.
func (q *Query) Match(r Record) bool { return matchKeys(q.Keys, r, q.Location) }

func matchKeys(keys []Key, r Record, loc *time.Location) bool {
	var skip []Tag
	for _, p := range dateTimePairs {
		dk, tk := findKey(keys, p[0]), findKey(keys, p[1])
		if dk == nil || tk == nil || dk.Kind == Universal || tk.Kind == Universal || dk.Kind == List || tk.Kind == List {
			continue
		}
		if !MatchDateTime(dk.Value, tk.Value, r.Values[p[0]], r.Values[p[1]]) {
			return false
		}
		skip = append(skip, p[0], p[1])
	}
	for i := range keys {
		k := &keys[i]
		if slices.Contains(skip, k.Tag) {
			continue
		}
		if k.Kind == Sequence {
			if !k.matchItems(r.Seqs[k.Tag], loc) {
				return false
			}
			continue
		}
		if !k.matchText(r.Values[k.Tag], loc) {
			return false
		}
	}
	return true
}

func (k *Key) matchItems(items []Record, loc *time.Location) bool {
	if len(items) == 0 {
		for i := range k.Items {
			if k.Items[i].Kind != Universal {
				return false
			}
		}
		return true
	}
	for _, it := range items {
		if matchKeys(k.Items, it, loc) {
			return true
		}
	}
	return false
}

// Match reports whether an entity's value (several values joined by '\')
// matches the key. Universal and Sequence keys match any text.
func (k *Key) Match(value string) bool { return k.matchText(value, nil) }

func (k *Key) matchText(value string, loc *time.Location) bool {
	if k.Kind == Universal || k.Kind == Sequence {
		return true
	}
	vals := []string{value}
	if multiValued(k.VR) && strings.Contains(value, `\`) {
		vals = strings.Split(value, `\`)
	}
	for _, v := range vals {
		v = trimText(v, k.VR)
		switch k.Kind {
		case SingleValue:
			if k.matchSingle(k.Value, v, loc) {
				return true
			}
		case Wildcard:
			if k.matchWild(v) {
				return true
			}
		case List:
			for _, kv := range k.Values {
				if kv == "" || kv == "*" || k.matchSingle(kv, v, loc) || (wildcardVR(k.VR) && HasWildcard(kv) && MatchString(kv, v, k.Fold)) {
					return true
				}
			}
		case Range:
			if k.matchSingle(k.Value, v, loc) {
				return true
			}
		}
	}
	return false
}

func (k *Key) matchSingle(key, v string, loc *time.Location) bool {
	switch k.VR {
	case "DA":
		return MatchDateRange(key, v)
	case "TM":
		return MatchTimeRange(key, v)
	case "DT":
		return MatchDateTimeRange(key, v, loc)
	case "PN":
		key, v = TrimPN(key), TrimPN(v)
		if k.Fold {
			key, v = Fold(key), Fold(v)
		}
		if key == v {
			return true
		}
		// A key without '=' may name any one component group.
		if !strings.Contains(key, "=") {
			for _, g := range strings.Split(v, "=") {
				if TrimPN(g) == key {
					return true
				}
			}
		}
		return false
	}
	if k.Fold {
		return Fold(key) == Fold(v)
	}
	return key == v
}

func (k *Key) matchWild(v string) bool {
	if k.VR != "PN" {
		return MatchString(k.Value, v, k.Fold)
	}
	v = TrimPN(v)
	if MatchString(k.Value, v, k.Fold) {
		return true
	}
	if !strings.Contains(k.Value, "=") {
		for _, g := range strings.Split(v, "=") {
			if MatchString(k.Value, TrimPN(g), k.Fold) {
				return true
			}
		}
	}
	return false
}

// ResponseOptions says how to write a C-FIND response identifier.
type ResponseOptions struct {
	// Charset is the response's character set; nil is the default
	// repertoire. Its Terms go to Specific Character Set (0008,0005).
	Charset *Charset
	// Transliterate writes text the charset cannot hold (Cyrillic for an
	// ASCII-only scanner) in Latin letters per ICAO 9303 instead of
	// failing.
	Transliterate bool
}

// Response builds the response identifier for one matching record: every
// key of the query, with the record's value or empty when the record has
// none, Specific Character Set (when the charset declares terms or the
// query asked for it) and Query/Retrieve Level (when the query had it).
// Sequence keys get the record's items that match the item keys, each
// holding the item keys; a universal sequence key gets every item with
// all its values. Errors are *CharsetError naming the tag whose text
// cannot be encoded, or *EncodeError for a record value not valid for
// its VR (a Rows that is not a number).
func (q *Query) Response(r Record, opt ResponseOptions) (*Dataset, error) {
	ds := &Dataset{}
	if terms := opt.Charset.Terms(); len(terms) > 0 || q.CharsetRequested {
		if err := ds.SetStrings(TagSpecificCharacterSet, "CS", terms, nil); err != nil {
			return nil, err
		}
	}
	if q.LevelRequested {
		if err := ds.SetText(TagQueryRetrieveLevel, "CS", q.Level, nil); err != nil {
			return nil, err
		}
	}
	if err := buildKeys(ds, q.Keys, r, opt, q.Location); err != nil {
		return nil, err
	}
	return ds, nil
}

func buildKeys(ds *Dataset, keys []Key, r Record, opt ResponseOptions, loc *time.Location) error {
	for i := range keys {
		k := &keys[i]
		if k.VR == "SQ" {
			items := []*Dataset{}
			for _, it := range r.Seqs[k.Tag] {
				item := &Dataset{}
				if k.Kind == Universal {
					if err := buildAll(item, it, opt); err != nil {
						return err
					}
				} else {
					if !matchKeys(k.Items, it, loc) {
						continue
					}
					if err := buildKeys(item, k.Items, it, opt, loc); err != nil {
						return err
					}
				}
				items = append(items, item)
			}
			ds.SetSequence(k.Tag, items...)
			continue
		}
		if err := setValue(ds, k.Tag, k.VR, r.Values[k.Tag], opt); err != nil {
			return err
		}
	}
	return nil
}

func buildAll(ds *Dataset, r Record, opt ResponseOptions) error {
	for t, v := range r.Values {
		if err := setValue(ds, t, DictVR(t), v, opt); err != nil {
			return err
		}
	}
	for t, items := range r.Seqs {
		out := []*Dataset{}
		for _, it := range items {
			item := &Dataset{}
			if err := buildAll(item, it, opt); err != nil {
				return err
			}
			out = append(out, item)
		}
		ds.SetSequence(t, out...)
	}
	ds.Sort()
	return nil
}

func setValue(ds *Dataset, t Tag, vr, v string, opt ResponseOptions) error {
	if vr == "UN" || vr == "OB" || vr == "OW" || vr == "" {
		ds.SetEmpty(t, vr)
		return nil
	}
	err := ds.SetText(t, vr, v, opt.Charset)
	if err != nil && opt.Transliterate && errors.Is(err, ErrCharset) {
		err = ds.SetText(t, vr, Transliterate(v), opt.Charset)
	}
	return err
}
