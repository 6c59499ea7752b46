package hl7

import "strings"

// OBX is an observation or result.
type OBX struct{ *Segment }

func (o OBX) SetID() string { return o.str(1) }

// ValueType is OBX-2 upper-cased and trimmed ("NM", "ST", ...); "" when
// the sender left it empty (the cobas middleware does).
func (o OBX) ValueType() string              { return strings.ToUpper(strings.TrimSpace(o.str(2))) }
func (o OBX) ObservationID() CWE             { return readCWE(o.Field(3)) }
func (o OBX) SubID() string                  { return o.str(4) }
func (o OBX) ReferenceRange() string         { return o.Field(7).Text() }
func (o OBX) AbnormalFlags() []string        { return strs(o.Field(8)) }
func (o OBX) Probability() string            { return o.str(9) }
func (o OBX) NatureOfAbnormalTest() []string { return strs(o.Field(10)) }

// ResultStatus is OBX-11 (table 0085: F, P, C, X, ...).
func (o OBX) ResultStatus() string               { return o.str(11) }
func (o OBX) ReferenceRangeDate() (Time, error)  { return o.time(12) }
func (o OBX) UserDefinedAccessChecks() []string  { return strs(o.Field(13)) }
func (o OBX) ObservationDateTime() (Time, error) { return o.time(14) }
func (o OBX) ProducerID() CWE                    { return readCWE(o.Field(15)) }
func (o OBX) ResponsibleObservers() []XCN        { return list(o.Field(16), readXCN) }
func (o OBX) Methods() []CWE                     { return list(o.Field(17), readCWE) }
func (o OBX) EquipmentInstanceIDs() []EI         { return list(o.Field(18), readEI) }
func (o OBX) AnalysisDateTime() (Time, error)    { return o.time(19) }

// Units is OBX-6. Devices write units such as 10^9/L without escaping the
// caret; with Lenient.UnescapedDelimiters a field whose first component is
// a bare number and whose second starts with a digit ("10" and "9/L") is
// read whole as the unit code. Without the flag it is read as CWE, and
// Field(6).Text() still gives the whole text.
func (o OBX) Units() CWE {
	f := o.Field(6)
	if o.Segment != nil && o.c.lax && looksLikeSplitUnit(f) {
		return CWE{Code: f.Text()}
	}
	return readCWE(f)
}

func looksLikeSplitUnit(f Value) bool {
	if f.NumReps() != 1 || f.NumComps() < 2 {
		return false
	}
	c1, c2 := f.Comp(1).String(), f.Comp(2).String()
	return c1 != "" && allDigits(c1) && c2 != "" && '0' <= c2[0] && c2[0] <= '9'
}

// ObsValue is one OBX-5 repetition read by the value type in OBX-2. Raw
// and Text are always set; the typed member for the type is filled and
// the others are zero. Err says why the text is not valid for its type (a
// masked number is not an error: Number.Status says NumMasked).
type ObsValue struct {
	Type   string `json:"type,omitempty"`
	Raw    string `json:"raw,omitempty"`
	Text   string `json:"text,omitempty"`
	Number Number `json:"number,omitzero"` // NM, and an empty OBX-2
	SN     SN     `json:"sn,omitzero"`
	Coded  CWE    `json:"coded,omitzero"` // CE, CWE, CNE
	Time   Time   `json:"time,omitzero"`  // DT, DTM, TS
	ED     ED     `json:"ed,omitzero"`
	Err    error  `json:"-"`
}

// Value reads OBX-5 as a whole: the first repetition, except for the
// text types, whose repetitions are lines (TX, FT) and are joined, and ST
// read leniently, whose repetition separators are data.
func (o OBX) Value() ObsValue {
	typ := o.ValueType()
	f := o.Field(5)
	switch {
	case typ == "TX" || typ == "FT" || typ == "CF":
		return ObsValue{Type: typ, Raw: f.Raw(), Text: joinReps(f, typ)}
	case typ == "ST" && o.Segment != nil && o.c.lax:
		return ObsValue{Type: typ, Raw: f.Raw(), Text: f.Text()}
	}
	return o.readValue(typ, f.Rep(1))
}

// Values reads every OBX-5 repetition separately.
func (o OBX) Values() []ObsValue {
	typ := o.ValueType()
	reps := o.Field(5).Reps()
	out := make([]ObsValue, 0, len(reps))
	for _, r := range reps {
		out = append(out, o.readValue(typ, r))
	}
	return out
}

func (o OBX) readValue(typ string, v Value) ObsValue {
	ov := ObsValue{Type: typ, Raw: v.Raw()}
	switch typ {
	case "TX", "FT", "CF":
		ov.Text = v.TextAs(typ)
	case "ST", "":
		// ST has no components: a separator inside is the sender's
		// unescaped data, so the whole repetition is the value.
		ov.Text = v.Text()
		if typ == "" {
			ov.Number = ParseNumber(ov.Text)
			if ov.Number.Status == NumInvalid {
				ov.Number = Number{} // untyped text: not a failed number
			}
		}
	case "NM":
		ov.Text = v.Text()
		ov.Number = ParseNumber(ov.Text)
		if ov.Number.Status == NumInvalid {
			ov.Err = o.valueError(5, 0, "NM value is not a number")
		}
	case "SN":
		ov.Text = v.Text()
		sn, err := readSN(v)
		ov.SN = sn
		if err != nil {
			ov.Err = o.valueError(5, 0, err.Error())
		}
	case "CE", "CWE", "CNE":
		ov.Coded = readCWE(v)
		ov.Text = ov.Coded.Text
		if ov.Text == "" {
			ov.Text = ov.Coded.Code
		}
	case "DT", "DTM", "TS":
		ov.Text = v.Comp(1).String()
		t, err := ParseTime(ov.Text, o.c.loc)
		ov.Time = t
		if err != nil {
			ov.Err = o.valueError(5, 0, err.Error())
		}
	case "ED":
		ed, err := readED(v)
		ov.ED = ed
		if err != nil {
			ov.Err = o.valueError(5, 0, err.Error())
		}
	default:
		ov.Text = v.String()
		if v.NumComps() > 1 {
			ov.Text = v.Text()
		}
	}
	return ov
}

// ObservationGroup is one OBR with what belongs to it: its ORC, notes,
// timing, observations (each with its notes) and specimens. PID is the
// patient in force at that point, since a message (a QC run, a batch of
// samples) may repeat PID.
type ObservationGroup struct {
	PID          PID
	ORC          ORC
	OBR          OBR
	TQ1          []TQ1
	Notes        []NTE
	Observations []Observation
	Specimens    []SPM
	// SpecimenObservations are the OBX of a SPECIMEN group: observations
	// about the sample (volume, appearance), not results of the order.
	SpecimenObservations []Observation
}

// Observation is an OBX with the NTE segments that follow it.
type Observation struct {
	OBX   OBX
	Notes []NTE
}

// ObservationGroups walks the segments in order and groups results under
// their OBR, following the message structure of MSH-9:
//   - ORU^R01 (and the other order-first structures): ORC comes before its
//     OBR; a SPM after the results, and the OBX after that SPM, belong to
//     the OBR's specimen;
//   - OUL^R22 and OUL^R23 are specimen-first: SPM (with its own OBX and
//     containers) opens a specimen, and each OBR after it is an order on
//     that sample, its ORC following it;
//   - OUL^R24 is order-first with ORC after OBR and SPM inside the order.
//
// OBX before any OBR (ADT messages carry some) form a group with a zero
// OBR. Segments the walk does not know are skipped.
func (m *Message) ObservationGroups() []ObservationGroup {
	mt := m.MSH().MessageType()
	oul := strings.EqualFold(mt.Code, "OUL")
	specimenFirst := oul && (strings.EqualFold(mt.Trigger, "R22") || strings.EqualFold(mt.Trigger, "R23"))
	var groups []ObservationGroup
	var pid PID
	var orc ORC
	var spm *SPM             // the open specimen of a specimen-first message
	var spmObs []Observation // … and its observations
	var cur *ObservationGroup
	var notes *[]NTE    // where an NTE goes now; nil: nowhere
	inSpecimen := false // OBX now are specimen observations
	newGroup := func(obr *Segment) {
		g := ObservationGroup{PID: pid, ORC: orc, OBR: OBR{obr}}
		if spm != nil {
			g.Specimens = []SPM{*spm}
			g.SpecimenObservations = spmObs
		}
		groups = append(groups, g)
		cur = &groups[len(groups)-1]
		orc = ORC{}
		notes = &cur.Notes
		inSpecimen = false
	}
	for i := range m.Segments {
		s := &m.Segments[i]
		switch s.Name {
		case "PID":
			pid, cur, notes, spm, spmObs, inSpecimen = PID{s}, nil, nil, nil, nil, false
		case "ORC":
			if oul && cur != nil && cur.ORC.Segment == nil {
				cur.ORC = ORC{s} // OUL: the order's ORC follows its OBR
				continue
			}
			orc, cur, notes, inSpecimen = ORC{s}, nil, nil, false
		case "OBR":
			newGroup(s)
		case "TQ1":
			if cur != nil {
				cur.TQ1 = append(cur.TQ1, TQ1{s})
			}
		case "SPM":
			if specimenFirst {
				spm, spmObs, cur, notes, inSpecimen = &SPM{s}, nil, nil, nil, true
				continue
			}
			if cur != nil {
				cur.Specimens = append(cur.Specimens, SPM{s})
				inSpecimen, notes = true, nil
			}
		case "OBX":
			o := Observation{OBX: OBX{s}}
			switch {
			case inSpecimen && cur == nil:
				spmObs = append(spmObs, o)
				notes = &spmObs[len(spmObs)-1].Notes
				continue
			case inSpecimen:
				cur.SpecimenObservations = append(cur.SpecimenObservations, o)
				notes = &cur.SpecimenObservations[len(cur.SpecimenObservations)-1].Notes
				continue
			case cur == nil:
				newGroup(nil)
			}
			cur.Observations = append(cur.Observations, o)
			notes = &cur.Observations[len(cur.Observations)-1].Notes
		case "NTE":
			if notes != nil {
				*notes = append(*notes, NTE{s})
			}
		}
	}
	return groups
}
