package hl7

import "strconv"

// Composite data types. Each has a reader from a Value — a field,
// repetition or (for those that nest) a component whose parts are
// subcomponents — and an Encode method producing the raw text for a field
// (components) that builders pass to Segment.Set.

// HD is a hierarchic designator: an application, facility or assigning
// authority.
type HD struct {
	NamespaceID     string `json:"namespace,omitempty"`
	UniversalID     string `json:"universal_id,omitempty"`
	UniversalIDType string `json:"universal_id_type,omitempty"`
}

// IsZero reports an HD with nothing in it.
func (h HD) IsZero() bool { return h == HD{} }

func readHD(v Value) HD {
	var p [3]Value
	v.parts(p[:])
	return HD{p[0].String(), p[1].String(), p[2].String()}
}

// Encode returns the HD as a field (components).
func (h HD) Encode(d Delimiters) string { return h.enc(d, d.Component) }

func (h HD) enc(d Delimiters, sep byte) string {
	return d.join(sep, d.Encode(h.NamespaceID), d.Encode(h.UniversalID), d.Encode(h.UniversalIDType))
}

// CWE is a coded value (CE, CWE and CNE share the layout): identifier,
// text and coding system, an alternate triplet, versions and original text.
type CWE struct {
	Code             string `json:"code,omitempty"`
	Text             string `json:"text,omitempty"`
	System           string `json:"system,omitempty"`
	AltCode          string `json:"alt_code,omitempty"`
	AltText          string `json:"alt_text,omitempty"`
	AltSystem        string `json:"alt_system,omitempty"`
	SystemVersion    string `json:"system_version,omitempty"`
	AltSystemVersion string `json:"alt_system_version,omitempty"`
	OriginalText     string `json:"original_text,omitempty"`
}

// IsZero reports a CWE with nothing in it.
func (c CWE) IsZero() bool { return c == CWE{} }

func readCWE(v Value) CWE {
	var p [9]Value
	v.parts(p[:])
	return CWE{
		Code: p[0].String(), Text: p[1].String(), System: p[2].String(),
		AltCode: p[3].String(), AltText: p[4].String(), AltSystem: p[5].String(),
		SystemVersion: p[6].String(), AltSystemVersion: p[7].String(), OriginalText: p[8].String(),
	}
}

// Encode returns the CWE as a field.
func (c CWE) Encode(d Delimiters) string { return c.enc(d, d.Component) }

func (c CWE) enc(d Delimiters, sep byte) string {
	return d.join(sep, d.Encode(c.Code), d.Encode(c.Text), d.Encode(c.System),
		d.Encode(c.AltCode), d.Encode(c.AltText), d.Encode(c.AltSystem),
		d.Encode(c.SystemVersion), d.Encode(c.AltSystemVersion), d.Encode(c.OriginalText))
}

// CX is an identifier with its assigning authority and type (PID-3).
type CX struct {
	ID                 string `json:"id,omitempty"`
	CheckDigit         string `json:"check_digit,omitempty"`
	CheckDigitScheme   string `json:"check_digit_scheme,omitempty"`
	AssigningAuthority HD     `json:"assigning_authority,omitzero"`
	TypeCode           string `json:"type,omitempty"`
	AssigningFacility  HD     `json:"assigning_facility,omitzero"`
}

// IsZero reports a CX with nothing in it.
func (c CX) IsZero() bool { return c == CX{} }

func readCX(v Value) CX {
	var p [6]Value
	v.Rep(1).parts(p[:])
	return CX{
		ID: p[0].String(), CheckDigit: p[1].String(), CheckDigitScheme: p[2].String(),
		AssigningAuthority: readHD(p[3]), TypeCode: p[4].String(), AssigningFacility: readHD(p[5]),
	}
}

// Encode returns the CX as a field.
func (c CX) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(c.ID), d.Encode(c.CheckDigit), d.Encode(c.CheckDigitScheme),
		c.AssigningAuthority.enc(d, d.Subcomponent), d.Encode(c.TypeCode), c.AssigningFacility.enc(d, d.Subcomponent))
}

// XPN is a person name. Family is the surname (the first subcomponent of
// XPN-1 in v2.3+); Middle is XPN-3, "second and further given names",
// which holds the patronymic in Russian names.
type XPN struct {
	Family   string `json:"family,omitempty"`
	Given    string `json:"given,omitempty"`
	Middle   string `json:"middle,omitempty"`
	Suffix   string `json:"suffix,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Degree   string `json:"degree,omitempty"`
	TypeCode string `json:"type,omitempty"`
}

// IsZero reports an XPN with nothing in it.
func (x XPN) IsZero() bool { return x == XPN{} }

func readXPN(v Value) XPN {
	var p [7]Value
	v.Rep(1).parts(p[:])
	return XPN{
		Family: p[0].Sub(1).String(), Given: p[1].String(), Middle: p[2].String(),
		Suffix: p[3].String(), Prefix: p[4].String(), Degree: p[5].String(), TypeCode: p[6].String(),
	}
}

// Encode returns the XPN as a field.
func (x XPN) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(x.Family), d.Encode(x.Given), d.Encode(x.Middle), d.Encode(x.Suffix),
		d.Encode(x.Prefix), d.Encode(x.Degree), d.Encode(x.TypeCode))
}

// XCN is a person with an identifier: providers, technicians, the
// subject filter of a QRD.
type XCN struct {
	ID                 string `json:"id,omitempty"`
	Family             string `json:"family,omitempty"`
	Given              string `json:"given,omitempty"`
	Middle             string `json:"middle,omitempty"`
	Suffix             string `json:"suffix,omitempty"`
	Prefix             string `json:"prefix,omitempty"`
	Degree             string `json:"degree,omitempty"`
	AssigningAuthority HD     `json:"assigning_authority,omitzero"`
	TypeCode           string `json:"type,omitempty"` // XCN-13 identifier type
}

// IsZero reports an XCN with nothing in it.
func (x XCN) IsZero() bool { return x == XCN{} }

func readXCN(v Value) XCN {
	var p [13]Value
	v.Rep(1).parts(p[:])
	return XCN{
		ID: p[0].String(), Family: p[1].Sub(1).String(), Given: p[2].String(), Middle: p[3].String(),
		Suffix: p[4].String(), Prefix: p[5].String(), Degree: p[6].String(),
		AssigningAuthority: readHD(p[8]), TypeCode: p[12].String(),
	}
}

// Encode returns the XCN as a field.
func (x XCN) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(x.ID), d.Encode(x.Family), d.Encode(x.Given), d.Encode(x.Middle),
		d.Encode(x.Suffix), d.Encode(x.Prefix), d.Encode(x.Degree), "", x.AssigningAuthority.enc(d, d.Subcomponent),
		"", "", "", d.Encode(x.TypeCode))
}

// XAD is an address.
type XAD struct {
	Street          string `json:"street,omitempty"`
	Other           string `json:"other,omitempty"`
	City            string `json:"city,omitempty"`
	State           string `json:"state,omitempty"`
	Zip             string `json:"zip,omitempty"`
	Country         string `json:"country,omitempty"`
	TypeCode        string `json:"type,omitempty"`
	OtherGeographic string `json:"other_geographic,omitempty"`
	County          string `json:"county,omitempty"`
}

// IsZero reports an XAD with nothing in it.
func (x XAD) IsZero() bool { return x == XAD{} }

func readXAD(v Value) XAD {
	var p [9]Value
	v.Rep(1).parts(p[:])
	return XAD{
		Street: p[0].Sub(1).String(), Other: p[1].String(), City: p[2].String(), State: p[3].String(),
		Zip: p[4].String(), Country: p[5].String(), TypeCode: p[6].String(),
		OtherGeographic: p[7].String(), County: p[8].String(),
	}
}

// Encode returns the XAD as a field.
func (x XAD) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(x.Street), d.Encode(x.Other), d.Encode(x.City), d.Encode(x.State),
		d.Encode(x.Zip), d.Encode(x.Country), d.Encode(x.TypeCode), d.Encode(x.OtherGeographic), d.Encode(x.County))
}

// XTN is a telecom address. Number is XTN-1, the formatted number older
// versions use alone.
type XTN struct {
	Number        string `json:"number,omitempty"`
	Use           string `json:"use,omitempty"`
	Equipment     string `json:"equipment,omitempty"`
	Email         string `json:"email,omitempty"`
	CountryCode   string `json:"country_code,omitempty"`
	AreaCode      string `json:"area_code,omitempty"`
	Local         string `json:"local,omitempty"`
	Extension     string `json:"extension,omitempty"`
	Text          string `json:"text,omitempty"`
	Unformatted   string `json:"unformatted,omitempty"` // XTN-12, v2.6+
	ExtensionPref string `json:"extension_prefix,omitempty"`
}

// IsZero reports an XTN with nothing in it.
func (x XTN) IsZero() bool { return x == XTN{} }

func readXTN(v Value) XTN {
	var p [12]Value
	v.Rep(1).parts(p[:])
	return XTN{
		Number: p[0].String(), Use: p[1].String(), Equipment: p[2].String(), Email: p[3].String(),
		CountryCode: p[4].String(), AreaCode: p[5].String(), Local: p[6].String(),
		Extension: p[7].String(), Text: p[8].String(), ExtensionPref: p[9].String(),
		Unformatted: p[11].String(),
	}
}

// Encode returns the XTN as a field.
func (x XTN) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(x.Number), d.Encode(x.Use), d.Encode(x.Equipment), d.Encode(x.Email),
		d.Encode(x.CountryCode), d.Encode(x.AreaCode), d.Encode(x.Local), d.Encode(x.Extension), d.Encode(x.Text),
		d.Encode(x.ExtensionPref), "", d.Encode(x.Unformatted))
}

// EI is an entity identifier: order numbers, specimen and container IDs.
type EI struct {
	ID              string `json:"id,omitempty"`
	NamespaceID     string `json:"namespace,omitempty"`
	UniversalID     string `json:"universal_id,omitempty"`
	UniversalIDType string `json:"universal_id_type,omitempty"`
}

// IsZero reports an EI with nothing in it.
func (e EI) IsZero() bool { return e == EI{} }

func readEI(v Value) EI {
	var p [4]Value
	v.parts(p[:])
	return EI{p[0].String(), p[1].String(), p[2].String(), p[3].String()}
}

// Encode returns the EI as a field.
func (e EI) Encode(d Delimiters) string { return e.enc(d, d.Component) }

func (e EI) enc(d Delimiters, sep byte) string {
	return d.join(sep, d.Encode(e.ID), d.Encode(e.NamespaceID), d.Encode(e.UniversalID), d.Encode(e.UniversalIDType))
}

// EIP is a placer/filler pair of entity identifiers (SPM-2).
type EIP struct {
	Placer EI `json:"placer,omitzero"`
	Filler EI `json:"filler,omitzero"`
}

// IsZero reports an EIP with nothing in it.
func (e EIP) IsZero() bool { return e == EIP{} }

func readEIP(v Value) EIP { return EIP{readEI(v.Comp(1)), readEI(v.Comp(2))} }

// Encode returns the EIP as a field.
func (e EIP) Encode(d Delimiters) string {
	return d.join(d.Component, e.Placer.enc(d, d.Subcomponent), e.Filler.enc(d, d.Subcomponent))
}

// PL is a patient location (PV1-3).
type PL struct {
	PointOfCare string `json:"point_of_care,omitempty"`
	Room        string `json:"room,omitempty"`
	Bed         string `json:"bed,omitempty"`
	Facility    HD     `json:"facility,omitzero"`
	Status      string `json:"status,omitempty"`
	Type        string `json:"type,omitempty"`
	Building    string `json:"building,omitempty"`
	Floor       string `json:"floor,omitempty"`
	Description string `json:"description,omitempty"`
}

// IsZero reports a PL with nothing in it.
func (p PL) IsZero() bool { return p == PL{} }

func readPL(v Value) PL {
	return PL{
		PointOfCare: v.Comp(1).String(), Room: v.Comp(2).String(), Bed: v.Comp(3).String(), Facility: readHD(v.Comp(4)),
		Status: v.Comp(5).String(), Type: v.Comp(6).String(), Building: v.Comp(7).String(), Floor: v.Comp(8).String(),
		Description: v.Comp(9).String(),
	}
}

// Encode returns the PL as a field.
func (p PL) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(p.PointOfCare), d.Encode(p.Room), d.Encode(p.Bed), p.Facility.enc(d, d.Subcomponent),
		d.Encode(p.Status), d.Encode(p.Type), d.Encode(p.Building), d.Encode(p.Floor), d.Encode(p.Description))
}

// XON is an organization name with its identifier. ID is XON-10 (v2.5+)
// or, when that is empty, the older XON-3.
type XON struct {
	Name               string `json:"name,omitempty"`
	TypeCode           string `json:"type,omitempty"`
	ID                 string `json:"id,omitempty"`
	AssigningAuthority HD     `json:"assigning_authority,omitzero"`
	IDType             string `json:"id_type,omitempty"`
}

// IsZero reports an XON with nothing in it.
func (x XON) IsZero() bool { return x == XON{} }

func readXON(v Value) XON {
	id := v.Comp(10).String()
	if id == "" {
		id = v.Comp(3).String()
	}
	return XON{Name: v.Comp(1).String(), TypeCode: v.Comp(2).String(), ID: id, AssigningAuthority: readHD(v.Comp(6)), IDType: v.Comp(7).String()}
}

// MSG is a message type: MSH-9.
type MSG struct {
	Code      string `json:"code,omitempty"`
	Trigger   string `json:"trigger,omitempty"`
	Structure string `json:"structure,omitempty"`
}

// IsZero reports an MSG with nothing in it.
func (m MSG) IsZero() bool { return m == MSG{} }

// String returns "ORU^R01" style text.
func (m MSG) String() string {
	s := m.Code
	if m.Trigger != "" {
		s += "^" + m.Trigger
	}
	return s
}

// Encode returns the MSG as a field.
func (m MSG) Encode(d Delimiters) string {
	return d.join(d.Component, d.Encode(m.Code), d.Encode(m.Trigger), d.Encode(m.Structure))
}

// ELD is the pre-v2.5 error location and code in ERR-1.
type ELD struct {
	Segment  string `json:"segment,omitempty"`
	Sequence int    `json:"sequence,omitempty"`
	Field    int    `json:"field,omitempty"`
	Code     CWE    `json:"code,omitzero"`
}

// IsZero reports an ELD with nothing in it.
func (e ELD) IsZero() bool { return e == ELD{} }

func readELD(v Value) ELD {
	return ELD{Segment: v.Comp(1).String(), Sequence: atoi(v.Comp(2).String()), Field: atoi(v.Comp(3).String()), Code: readCWE(v.Comp(4))}
}

// ERL is the v2.5+ error location in ERR-2.
type ERL struct {
	Segment      string `json:"segment,omitempty"`
	Sequence     int    `json:"sequence,omitempty"`
	Field        int    `json:"field,omitempty"`
	FieldRep     int    `json:"field_rep,omitempty"`
	Component    int    `json:"component,omitempty"`
	Subcomponent int    `json:"subcomponent,omitempty"`
}

// IsZero reports an ERL with nothing in it.
func (e ERL) IsZero() bool { return e == ERL{} }

func readERL(v Value) ERL {
	return ERL{
		Segment: v.Comp(1).String(), Sequence: atoi(v.Comp(2).String()), Field: atoi(v.Comp(3).String()),
		FieldRep: atoi(v.Comp(4).String()), Component: atoi(v.Comp(5).String()), Subcomponent: atoi(v.Comp(6).String()),
	}
}

// atoi reads a small non-negative integer; anything else is 0, because
// location numbers in ERR are advisory and never worth failing over.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// list reads every repetition of a field with one of the readers above.
func list[T any](v Value, read func(Value) T) []T {
	reps := v.Reps()
	if len(reps) == 0 {
		return nil
	}
	out := make([]T, 0, len(reps))
	for _, r := range reps {
		if r.IsEmpty() {
			continue
		}
		item := read(r)
		// "^^^^^" repetitions are placeholders, not values.
		if z, ok := any(item).(interface{ IsZero() bool }); ok && z.IsZero() {
			continue
		}
		if s, ok := any(item).(string); ok && s == "" {
			continue
		}
		out = append(out, item)
	}
	return out
}

func strs(v Value) []string { return list(v, Value.String) }
