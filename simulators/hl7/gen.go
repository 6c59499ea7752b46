package hl7

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/parsers/hl7"
)

// Person is an invented patient: no generated name belongs to a real person.
type Person struct {
	Family, Given, Patronymic string
	Sex                       string // F or M
	BirthDate                 time.Time
}

// People are the invented patients generators cycle through. Every
// name uses letters that all four charsets hold, ё included.
var People = []Person{
	{"Берёзкина", "Алёна", "Игоревна", "F", date(1984, 3, 14)},
	{"Щукин", "Фёдор", "Эдуардович", "M", date(1957, 11, 2)},
	{"Журавлёва", "Юлия", "Андреевна", "F", date(1999, 7, 30)},
	{"Цыплаков", "Святослав", "Ильич", "M", date(1972, 1, 9)},
	{"Хмельницкая", "Ярослава", "Олеговна", "F", date(2011, 5, 21)},
	{"Объедков", "Пётр", "Семёнович", "M", date(1945, 12, 31)},
	{"Шишкова", "Эльвира", "Ъ-Тестовна", "F", date(1990, 2, 28)},
	{"Гуляев", "Жорж", "Чеславович", "M", date(1968, 9, 17)},
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Charsets are the -charset values and the MSH-18 each writes.
var Charsets = []struct{ Name, MSH18 string }{
	{"utf-8", "UNICODE UTF-8"},
	{"windows-1251", "CP1251"}, // not in table 0211; what Russian devices write
	{"iso-8859-5", "8859/5"},
	{"cp866", "CP866"}, // not in table 0211 either
}

// MSH18For returns the MSH-18 value written for a -charset name.
func MSH18For(charset string) (string, error) {
	canon, ok := hl7.CanonicalCharset(charset)
	if !ok {
		return "", fmt.Errorf("unknown charset %q (want utf-8, windows-1251, iso-8859-5 or cp866)", charset)
	}
	for _, c := range Charsets {
		if c.Name == canon {
			return c.MSH18, nil
		}
	}
	return "", fmt.Errorf("charset %q is not one the simulator writes (utf-8, windows-1251, iso-8859-5, cp866)", charset)
}

// Params are what every generator takes. The zero value is usable: an
// ORU from MEDGATE-SIM in UTF-8 with MSH-18 set.
type Params struct {
	ControlID         string // MSH-10
	App, Facility     string // MSH-3, MSH-4
	ReceivingApp      string // MSH-5
	ReceivingFacility string // MSH-6
	Time              time.Time
	Charset           string // utf-8 (default), windows-1251, iso-8859-5, cp866
	NoMSH18           bool   // leave MSH-18 empty (the receiver's device setting decides)
	// MSH18 overrides the MSH-18 value written (wrong-charset uses it).
	MSH18    string
	Enhanced bool // MSH-15 AL, MSH-16 NE: the receiver answers a commit ACK (CA)
	// Barcode is the specimen ID (OBR-3 / SPM-2 / QRD-8); default derived from Seq.
	Barcode string
	// PatientID is PID-3; default derived from Seq.
	PatientID string
	// QueryTrigger is the order query kind "qry" sends: Q02 (the default,
	// QueryQ02) or R02 (QueryR02).
	QueryTrigger string
	// Seq picks the patient from People and varies values; usually the
	// message's counter.
	Seq int
}

// DefaultApp is MSH-3 when Params.App is empty.
const DefaultApp = "MEDGATE-SIM"

func (p Params) header(typ hl7.MSG, version string) (hl7.Header, error) {
	cs := p.Charset
	if cs == "" {
		cs = "utf-8"
	}
	msh18, err := MSH18For(cs)
	if err != nil {
		return hl7.Header{}, err
	}
	if p.MSH18 != "" {
		msh18 = p.MSH18
	}
	if p.NoMSH18 {
		msh18 = ""
	}
	app := p.App
	if app == "" {
		app = DefaultApp
	}
	t := p.Time
	if t.IsZero() {
		t = time.Now()
	}
	h := hl7.Header{
		SendingApplication:   hl7.HD{NamespaceID: app},
		SendingFacility:      hl7.HD{NamespaceID: p.Facility},
		ReceivingApplication: hl7.HD{NamespaceID: p.ReceivingApp},
		ReceivingFacility:    hl7.HD{NamespaceID: p.ReceivingFacility},
		Time:                 t,
		Type:                 typ,
		ControlID:            p.ControlID,
		Version:              version,
		CharacterSet:         msh18,
		Encoding:             cs,
	}
	if p.Enhanced {
		h.AcceptAckType, h.AppAckType = "AL", "NE"
	}
	return h, nil
}

func (p Params) person() Person { return People[abs(p.Seq)%len(People)] }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (p Params) barcode() string {
	if p.Barcode != "" {
		return p.Barcode
	}
	return fmt.Sprintf("SIM%08d", abs(p.Seq))
}

func (p Params) patientID() string {
	if p.PatientID != "" {
		return p.PatientID
	}
	return fmt.Sprintf("P%06d", abs(p.Seq)%1000000)
}

func (p Params) patient() hl7.Patient {
	per := p.person()
	return hl7.Patient{
		Identifiers: []hl7.CX{{ID: p.patientID(), AssigningAuthority: hl7.HD{NamespaceID: "SIM"}, TypeCode: "MR"}},
		Names:       []hl7.XPN{{Family: per.Family, Given: per.Given, Middle: per.Patronymic, TypeCode: "L"}},
		BirthDate:   per.BirthDate,
		Sex:         per.Sex,
	}
}

// Analyte is one test of a panel: its device code, Russian name, unit,
// reference range and a typical value.
type Analyte struct {
	Code, Name, Unit string
	Low, High        float64
	Typical          float64
	Decimals         int
}

// CBCPanel is a 20-result complete blood count, as a haematology
// analyzer reports it.
var CBCPanel = []Analyte{
	{"WBC", "Лейкоциты", "10*9/L", 4.0, 9.0, 6.4, 2},
	{"RBC", "Эритроциты", "10*12/L", 3.8, 5.3, 4.6, 2},
	{"HGB", "Гемоглобин", "g/L", 120, 160, 138, 0},
	{"HCT", "Гематокрит", "%", 36, 48, 41.5, 1},
	{"MCV", "Средний объём эритроцита", "fL", 80, 100, 89.2, 1},
	{"MCH", "Среднее содержание Hb", "pg", 27, 34, 30.1, 1},
	{"MCHC", "Средняя концентрация Hb", "g/L", 320, 360, 338, 0},
	{"RDW-CV", "Ширина распределения эритроцитов", "%", 11.5, 14.5, 12.9, 1},
	{"PLT", "Тромбоциты", "10*9/L", 150, 400, 256, 0},
	{"MPV", "Средний объём тромбоцита", "fL", 7.4, 10.4, 9.1, 1},
	{"NEUT%", "Нейтрофилы, %", "%", 47, 72, 58.3, 1},
	{"LYMPH%", "Лимфоциты, %", "%", 19, 37, 30.2, 1},
	{"MONO%", "Моноциты, %", "%", 3, 11, 7.1, 1},
	{"EOS%", "Эозинофилы, %", "%", 0.5, 5, 2.4, 1},
	{"BASO%", "Базофилы, %", "%", 0, 1, 0.4, 1},
	{"NEUT#", "Нейтрофилы, абс.", "10*9/L", 1.8, 6.4, 3.73, 2},
	{"LYMPH#", "Лимфоциты, абс.", "10*9/L", 1.0, 3.0, 1.93, 2},
	{"MONO#", "Моноциты, абс.", "10*9/L", 0.1, 0.8, 0.45, 2},
	{"EOS#", "Эозинофилы, абс.", "10*9/L", 0.02, 0.3, 0.15, 2},
	{"BASO#", "Базофилы, абс.", "10*9/L", 0, 0.07, 0.03, 2},
}

// ChemistryPanel is a biochemistry panel as a chemistry analyzer reports it.
var ChemistryPanel = []Analyte{
	{"GLU", "Глюкоза", "mmol/L", 3.9, 6.1, 5.1, 1},
	{"CREA", "Креатинин", "umol/L", 62, 115, 88, 0},
	{"UREA", "Мочевина", "mmol/L", 2.5, 8.3, 5.4, 1},
	{"ALT", "АЛТ", "U/L", 0, 41, 24, 0},
	{"AST", "АСТ", "U/L", 0, 40, 22, 0},
	{"TBIL", "Билирубин общий", "umol/L", 3.4, 20.5, 11.2, 1},
	{"CHOL", "Холестерин общий", "mmol/L", 0, 5.2, 4.6, 2},
	{"TG", "Триглицериды", "mmol/L", 0, 1.7, 1.2, 2},
	{"TP", "Общий белок", "g/L", 64, 83, 72, 0},
	{"ALB", "Альбумин", "g/L", 35, 52, 44, 0},
	{"CRP", "С-реактивный белок", "mg/L", 0, 5, 2.1, 1},
	{"K", "Калий", "mmol/L", 3.5, 5.1, 4.3, 1},
	{"NA", "Натрий", "mmol/L", 136, 145, 140, 0},
	{"CL", "Хлориды", "mmol/L", 98, 107, 102, 0},
}

// value gives analyte i of message seq a deterministic value that is
// sometimes below, sometimes above the reference range, with its flag.
// Values repeat every 11 messages (see templateSlots).
func (a Analyte) value(seq, i int) (string, string) {
	v := a.Typical
	switch (seq*7 + i*3) % 11 {
	case 0:
		v = a.Low - (a.High-a.Low)*0.15
		if v < 0 {
			v = a.Low / 2
		}
	case 1:
		v = a.High + (a.High-a.Low)*0.2
	default:
		v = a.Typical * (1 + float64((seq%11+i)%9-4)/100)
	}
	text := strconv.FormatFloat(math.Max(v, 0), 'f', a.Decimals, 64)
	v, _ = strconv.ParseFloat(text, 64) // the flag is for the value as sent
	flag := "N"
	switch {
	case v < a.Low:
		flag = "L"
	case v > a.High:
		flag = "H"
	}
	return text, flag
}

func (a Analyte) rangeText() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	return f(a.Low) + "-" + f(a.High)
}

// CBC builds an ORU^R01 with a complete blood count (20 OBX, flags and
// reference ranges) for the specimen p.Barcode.
func CBC(p Params) (*hl7.Message, error) {
	return panel(p, hl7.CWE{Code: "CBC", Text: "Общий анализ крови", System: "99SIM"}, CBCPanel, "BC-SIM")
}

// Chemistry builds an ORU^R01 with a biochemistry panel (14 OBX).
func Chemistry(p Params) (*hl7.Message, error) {
	return panel(p, hl7.CWE{Code: "CHEM", Text: "Биохимический анализ крови", System: "99SIM"}, ChemistryPanel, "BS-SIM")
}

func panel(p Params, service hl7.CWE, tests []Analyte, equipment string) (*hl7.Message, error) {
	h, err := p.header(hl7.MSG{Code: "ORU", Trigger: "R01", Structure: "ORU_R01"}, "2.5.1")
	if err != nil {
		return nil, err
	}
	obs := h.Time.Add(-10 * time.Minute)
	results := make([]hl7.Result, len(tests))
	for i, a := range tests {
		v, flag := a.value(p.Seq, i)
		results[i] = hl7.Result{
			Type: "NM", ID: hl7.CWE{Code: a.Code, Text: a.Name, System: "99SIM"}, Value: v,
			Units: hl7.CWE{Code: a.Unit}, Range: a.rangeText(), Flags: []string{flag},
			Time: obs, Equipment: []hl7.EI{{ID: equipment}},
		}
	}
	return hl7.BuildORU(hl7.ORU{
		Header:  h,
		Patient: p.patient(),
		Reports: []hl7.Report{{
			FillerOrderNumber: hl7.EI{ID: p.barcode()},
			Service:           service,
			ObservationTime:   obs,
			Results:           results,
		}},
	}), nil
}

// ADT builds ADT^A01 (admit), ^A04 (register) or ^A08 (update) for the
// patient PID-3 = p.PatientID, with EVN, PID and PV1.
func ADT(event string, p Params) (*hl7.Message, error) {
	event = strings.ToUpper(event)
	switch event {
	case "A01", "A04", "A08":
	default:
		return nil, fmt.Errorf("ADT event %q: want A01, A04 or A08", event)
	}
	h, err := p.header(hl7.MSG{Code: "ADT", Trigger: event, Structure: "ADT_A01"}, "2.5.1")
	if err != nil {
		return nil, err
	}
	m := hl7.NewMessage(h)
	d := m.Delimiters()
	ts := hl7.FormatTime(h.Time, hl7.PrecisionSecond, false)
	m.Add("EVN", d.Encode(event), ts)
	pt := p.patient()
	per := p.person()
	m.Add("PID", "1", "", pt.Identifiers[0].Encode(d), "", pt.Names[0].Encode(d), "",
		hl7.FormatTime(per.BirthDate, hl7.PrecisionDay, false), d.Encode(per.Sex), "", "",
		hl7.XAD{Street: "ул. Садовая, д. 1", City: "Москва", Country: "RUS"}.Encode(d))
	class := "O"
	if event == "A01" {
		class = "I"
	}
	pv1 := m.Add("PV1", "1", class, hl7.PL{PointOfCare: "ТЕРАП", Room: "101"}.Encode(d))
	pv1.Set(19, hl7.CX{ID: "V" + p.patientID()}.Encode(d))
	pv1.Set(44, ts)
	return m, nil
}

func (p Params) order() hl7.Order {
	t := p.Time
	if t.IsZero() {
		t = time.Now()
	}
	return hl7.Order{
		Patient: p.patient(),
		Items: []hl7.OrderItem{{
			PlacerOrderNumber: hl7.EI{ID: "ORD" + p.barcode(), NamespaceID: "SIMLIS"},
			Service:           hl7.CWE{Code: "CBC", Text: "Общий анализ крови", System: "99SIM"},
			Priority:          "R",
			TransactionTime:   t,
			RequestedTime:     t,
			CollectionTime:    t.Add(-30 * time.Minute),
			OrderingProvider:  hl7.XCN{ID: "D001", Family: "Айболитова", Given: "Вера"},
			Specimen: &hl7.Specimen{
				ID:             hl7.EI{ID: p.barcode()},
				Type:           hl7.CWE{Code: "BLD", Text: "Кровь", System: "HL70487"},
				CollectionTime: t.Add(-30 * time.Minute),
			},
		}},
	}
}

// ORM builds an ORM^O01 (v2.3.1) ordering a CBC for the specimen p.Barcode.
func ORM(p Params) (*hl7.Message, error) {
	h, err := p.header(hl7.MSG{}, "2.3.1")
	if err != nil {
		return nil, err
	}
	o := p.order()
	o.Header = h
	return hl7.BuildORM(o), nil
}

// OML builds an OML^O21 (v2.5.1) ordering a CBC, with SPM-2 = p.Barcode.
func OML(p Params) (*hl7.Message, error) {
	h, err := p.header(hl7.MSG{}, "2.5.1")
	if err != nil {
		return nil, err
	}
	o := p.order()
	o.Header = h
	return hl7.BuildOML(o), nil
}

// QueryQ02 builds the original-mode host query QRY^Q02 (v2.3.1) that
// Mindray BS/BC analyzers send: the barcode in QRD-8, QRF-1 the analyzer.
// The host answers QCK^Q02, then DSR^Q03 with the orders.
func QueryQ02(p Params) (*hl7.Message, error) { return orderQuery(p, "Q02") }

// QueryR02 builds the same query as QRY^R02 (v2.3.1, "query for results
// of observation"), which other analyzers send to ask the host for a
// sample's orders; the host answers one ORF^R04.
func QueryR02(p Params) (*hl7.Message, error) { return orderQuery(p, "R02") }

// QueryTriggers are the Params.QueryTrigger values.
var QueryTriggers = []string{"Q02", "R02"}

func orderQuery(p Params, trigger string) (*hl7.Message, error) {
	h, err := p.header(hl7.MSG{Code: "QRY", Trigger: trigger, Structure: "QRY_" + trigger}, "2.3.1")
	if err != nil {
		return nil, err
	}
	m := hl7.NewMessage(h)
	d := m.Delimiters()
	ts := hl7.FormatTime(h.Time, hl7.PrecisionSecond, false)
	qid := p.ControlID
	if qid == "" {
		qid = "1"
	}
	m.Add("QRD", ts, "R", "D", d.Encode(qid), "", "", "RD", hl7.XCN{ID: p.barcode()}.Encode(d), "OTH", "", "", "T")
	m.Add("QRF", d.Encode(h.SendingApplication.NamespaceID), "", "", "", "", "RCT", "COR", "ALL")
	return m, nil
}

// Kinds are the -msg values.
var Kinds = []string{"oru", "cbc", "chem", "adt-a01", "adt-a04", "adt-a08", "orm", "oml", "qry"}

// Generate builds message kind (one of Kinds). "oru" alternates CBC and
// chemistry by p.Seq.
func Generate(kind string, p Params) (*hl7.Message, error) {
	switch strings.ToLower(kind) {
	case "", "oru":
		if p.Seq%2 == 0 {
			return CBC(p)
		}
		return Chemistry(p)
	case "cbc":
		return CBC(p)
	case "chem", "chemistry":
		return Chemistry(p)
	case "adt-a01", "adt-a04", "adt-a08":
		return ADT(kind[4:], p)
	case "orm":
		return ORM(p)
	case "oml":
		return OML(p)
	case "qry", "query":
		switch strings.ToUpper(p.QueryTrigger) {
		case "", "Q02":
			return QueryQ02(p)
		case "R02":
			return QueryR02(p)
		}
		return nil, fmt.Errorf("unknown query trigger %q (want %s)", p.QueryTrigger, strings.Join(QueryTriggers, " or "))
	}
	return nil, fmt.Errorf("unknown message kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
}

// Encode writes m in its charset, failing on a character it lacks.
func Encode(m *hl7.Message) ([]byte, error) { return m.EncodeCharset(m.Charset) }
