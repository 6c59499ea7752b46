// Package storebench loads a large, deterministic, realistic dataset into a
// medgate store and measures the store's hot paths against it: patient
// search by name prefix and by СНИЛС, loading one patient's chart, and
// registering a patient. The sqlite and postgres packages call the same
// benchmark bodies from their bench_test.go files; BENCHMARKS.md at the
// repository root records the figures.
//
// The dataset is a function of its Config alone (fixed seeds), so a loaded
// database can be cached and reused: see Prepare.
package storebench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// Dataset sizes the project's performance targets are stated for.
const (
	DefaultPatients     = 100_000
	DefaultObservations = 5_000_000
)

// generatorVersion changes whenever the generated data changes, so cached
// databases of an older generator are not reused.
const generatorVersion = 1

const seed = 20261122

// Config sizes a dataset.
type Config struct {
	Patients     int
	Observations int
}

// ConfigFromEnv returns the default size, overridden by
// MEDGATE_BENCH_PATIENTS and MEDGATE_BENCH_OBSERVATIONS.
func ConfigFromEnv() (Config, error) {
	c := Config{Patients: DefaultPatients, Observations: DefaultObservations}
	for name, dst := range map[string]*int{"MEDGATE_BENCH_PATIENTS": &c.Patients, "MEDGATE_BENCH_OBSERVATIONS": &c.Observations} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("%s=%q: want a non-negative number", name, v)
		}
		*dst = n
	}
	if c.Patients < 1 {
		return c, fmt.Errorf("MEDGATE_BENCH_PATIENTS must be at least 1")
	}
	return c, nil
}

// Key names the dataset of this size, generator and schema (the dialect's
// migration files), for cache file and schema names: lower-case letters,
// digits and underscores only.
func (c Config) Key(migrations fs.FS) string {
	h := sha256.New()
	if migrations != nil {
		names, _ := fs.Glob(migrations, "*.sql")
		sort.Strings(names)
		for _, n := range names {
			b, _ := fs.ReadFile(migrations, n)
			fmt.Fprintf(h, "%s %d\n", n, len(b))
			h.Write(b)
		}
	}
	return fmt.Sprintf("p%d_o%d_g%d_s%s", c.Patients, c.Observations, generatorVersion, hex.EncodeToString(h.Sum(nil))[:8])
}

// Time span of the generated history.
var (
	spanStart = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	spanEnd   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// Organization layout: every hundredth patient belongs to the second, small
// organization, so scoping by organization has something to exclude.
const (
	OrgMain  = 0
	OrgSmall = 1
)

func orgOf(i int) int {
	if i%100 == 37 {
		return OrgSmall
	}
	return OrgMain
}

var orgUIDRoots = [2]string{"1.2.643.5.1.13.13.12.2.77.8001", "1.2.643.5.1.13.13.12.2.77.8002"}

// medCardSystem is each organization's medical record number system.
func medCardSystem(org int) string { return "urn:oid:" + orgUIDRoots[org] + ".100" }

// PatientInfo is what the benchmarks need to know about a generated patient.
// The patient's ID is its index in Dataset.Patients plus one.
type PatientInfo struct {
	Org      uint8 // OrgMain or OrgSmall
	Family   uint16
	Female   bool
	HasSNILS bool
	NObs     int32
	NReports int32
	NStudies int8
	weight   float64
}

// Dataset is a generated dataset; after Prepare it also knows the ids the
// store gave its organizations and user.
type Dataset struct {
	Config
	Key      string
	Patients []PatientInfo
	OrgIDs   [2]int64
	UserID   int64
	Reused   bool          // Prepare found it loaded already
	LoadTime time.Duration // when Prepare loaded it
	Stats    Stats
}

// Stats counts what a dataset holds.
type Stats struct {
	Reports, Studies, Series, Instances, Identifiers int64
	MaxObsPerPatient                                 int
	PatientsWithoutObs                               int
	PatientsOver200Obs                               int
}

// Generate computes the dataset's patients and their result counts.
func Generate(c Config) *Dataset {
	d := &Dataset{Config: c, Patients: make([]PatientInfo, c.Patients)}
	var wsum float64
	for i := range d.Patients {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		p := &d.Patients[i]
		p.Org = uint8(orgOf(i))
		p.Female = r.IntN(100) < 55
		p.Family = uint16(zipf(r, len(familyMale)))
		p.HasSNILS = r.IntN(100) < 92
		// ~8% never had a lab test here; the rest follow a log-normal, so a
		// few chronic patients have hundreds of results.
		if r.Float64() >= 0.08 {
			p.weight = math.Exp(0.9 * r.NormFloat64())
		}
		wsum += p.weight
		if r.IntN(1000) < 30 {
			p.NStudies = int8(1 + r.IntN(2))
			if r.IntN(10) == 0 {
				p.NStudies++
			}
		}
	}
	// Scale the weights to the wanted total, capped, then hand the
	// remainder out one by one so the total is exact.
	avg := float64(c.Observations) / float64(c.Patients)
	limit := int32(max(30*avg, 10))
	var total int
	if wsum > 0 {
		scale := float64(c.Observations) / wsum
		for i := range d.Patients {
			p := &d.Patients[i]
			p.NObs = min(int32(p.weight*scale), limit)
			total += int(p.NObs)
		}
	}
	for k := 0; total < c.Observations; k++ {
		p := &d.Patients[(k*7919)%len(d.Patients)]
		if p.weight > 0 || wsum == 0 {
			p.NObs++
			total++
		}
	}
	for i := range d.Patients {
		p := &d.Patients[i]
		p.NReports = int32(len(d.patientReports(i)))
		d.Stats.Reports += int64(p.NReports)
		d.Stats.MaxObsPerPatient = max(d.Stats.MaxObsPerPatient, int(p.NObs))
		if p.NObs == 0 {
			d.Stats.PatientsWithoutObs++
		}
		if p.NObs > 200 {
			d.Stats.PatientsOver200Obs++
		}
		for _, st := range d.studies(i) {
			d.Stats.Studies++
			for _, se := range st.Series {
				d.Stats.Series++
				d.Stats.Instances += int64(len(se.Instances))
			}
		}
		d.Stats.Identifiers += int64(len(d.Patient(i).AllIdentifiers()))
	}
	return d
}

// zipf picks an index in [0, n) with a skew towards the front, as family
// name frequencies are skewed (Ivanov is common, Трубецкой is not).
func zipf(r *rand.Rand, n int) int {
	// Inverse CDF of a 1/(k+10) density.
	u := r.Float64()
	k := int(11*math.Pow(float64(n+11)/11, u)) - 11
	return min(max(k, 0), n-1)
}

// ID is the store id of patient i.
func ID(i int) int64 { return int64(i) + 1 }

// FamilyName is the family name of patient i as stored.
func (d *Dataset) FamilyName(i int) string {
	p := d.Patients[i]
	if p.Female {
		return femaleFamily(familyMale[p.Family])
	}
	return familyMale[p.Family]
}

// Orgs is the scope a user of the main organization searches in.
func (d *Dataset) Orgs() []int64 { return []int64{d.OrgIDs[OrgMain]} }

// created is when patient i was registered: the history is spread evenly
// over the span, patient ids in registration order.
func (d *Dataset) created(i int) int64 {
	step := (spanEnd - spanStart) / int64(len(d.Patients))
	r := rand.New(rand.NewPCG(seed+4, uint64(i)))
	return spanStart + int64(i)*step + r.Int64N(max(step, 1))
}

// SNILS returns the valid СНИЛС numbered n (distinct n give distinct
// numbers for n below 800,000,000).
func SNILS(n int) string {
	body := fmt.Sprintf("%09d", 100_000_000+(n*48271+12345)%800_000_000)
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(body[i]-'0') * (9 - i)
	}
	check := sum % 101
	if check == 100 {
		check = 0
	}
	return fmt.Sprintf("%s%02d", body, check)
}

// enp returns the ЕНП polis number numbered n.
func enp(n int) string {
	return fmt.Sprintf("77%014d", (int64(n)*2654435761+99991)%100_000_000_000_000)
}

// Patient builds patient i of the dataset in full (or, for i beyond the
// dataset, a new patient of the main organization that collides with none
// of it), without ID and organization id.
func (d *Dataset) Patient(i int) *domain.Patient {
	r := rand.New(rand.NewPCG(seed+5, uint64(i)))
	var info PatientInfo
	if i < len(d.Patients) {
		info = d.Patients[i]
	} else {
		info = PatientInfo{Female: r.IntN(2) == 0, Family: uint16(zipf(r, len(familyMale))), HasSNILS: true}
	}
	p := &domain.Patient{Active: true, Gender: domain.GenderMale}
	p.Family = familyMale[info.Family]
	p.Given = givenMale[r.IntN(len(givenMale))]
	pat := patronymics[r.IntN(len(patronymics))]
	p.Patronymic = pat[0]
	if info.Female {
		p.Gender = domain.GenderFemale
		p.Family = femaleFamily(p.Family)
		p.Given = givenFemale[r.IntN(len(givenFemale))]
		p.Patronymic = pat[1]
	}
	if r.IntN(100) < 3 {
		p.Patronymic = ""
	}
	var created int64
	if i < len(d.Patients) {
		created = d.created(i)
	} else {
		created = spanEnd
	}
	// Age at registration: mostly adults, some children.
	age := r.IntN(90)
	if r.IntN(10) == 0 {
		age = r.IntN(18)
	}
	birth := time.UnixMicro(created).UTC().AddDate(-age, 0, -1-r.IntN(365))
	p.BirthDate = birth.Format(time.DateOnly)
	if info.HasSNILS {
		p.SNILS = SNILS(i)
	}
	if r.IntN(100) < 60 {
		p.ENP = enp(i)
	}
	p.Identifiers = []domain.Identifier{{System: medCardSystem(int(info.Org)), Value: fmt.Sprintf("%06d", i+1)}}
	p.Phone = fmt.Sprintf("+7 9%02d %03d-%02d-%02d", r.IntN(100), r.IntN(1000), r.IntN(100), r.IntN(100))
	p.Address = fmt.Sprintf("%s, %s, д. %d, кв. %d", cities[r.IntN(len(cities))], streets[r.IntN(len(streets))],
		1+r.IntN(120), 1+r.IntN(300))
	p.Created = time.UnixMicro(created).UTC()
	p.Updated, p.Version = p.Created, 1
	return p
}

// Lab panels and analytes.

type analyte struct {
	code, display, unit string
	low, high           float64 // reference range; NaN: open
	critLow, critHigh   float64 // NaN: none
	decimals            int
	coded               bool // urine strip results: negative / trace / positive
}

type panel struct {
	code, display string
	weight        float64
	analytes      []analyte
	pick          int // when >0, pick this many analytes at random (1..pick)
}

var nan = math.NaN()

func q(code, display, unit string, low, high, critLow, critHigh float64, dec int) analyte {
	return analyte{code: code, display: display, unit: unit, low: low, high: high, critLow: critLow, critHigh: critHigh, decimals: dec}
}

var (
	alt = q("1742-6", "АЛТ", "U/L", nan, 41, nan, 1000, 0)
	ast = q("1920-8", "АСТ", "U/L", nan, 40, nan, 1000, 0)
	bil = q("14631-6", "Билирубин общий", "umol/L", 3.4, 20.5, nan, 300, 1)
)

var panels = []panel{
	{code: "58410-2", display: "Общий анализ крови", weight: 0.45, analytes: []analyte{
		q("6690-2", "Лейкоциты (WBC)", "10*9/L", 4.0, 9.0, 1.0, 30, 1),
		q("789-8", "Эритроциты (RBC)", "10*12/L", 3.8, 5.5, nan, nan, 2),
		q("718-7", "Гемоглобин (HGB)", "g/L", 120, 160, 70, 200, 0),
		q("4544-3", "Гематокрит (HCT)", "%", 36, 48, 20, 60, 1),
		q("787-2", "Средний объём эритроцита (MCV)", "fL", 80, 100, nan, nan, 1),
		q("785-6", "Среднее содержание Hb в эритроците (MCH)", "pg", 27, 34, nan, nan, 1),
		q("786-4", "Средняя концентрация Hb в эритроцитах (MCHC)", "g/L", 300, 380, nan, nan, 0),
		q("777-3", "Тромбоциты (PLT)", "10*9/L", 150, 400, 20, 1000, 0),
		q("770-8", "Нейтрофилы", "%", 47, 72, nan, nan, 1),
		q("736-9", "Лимфоциты", "%", 19, 37, nan, nan, 1),
		q("5905-5", "Моноциты", "%", 3, 11, nan, nan, 1),
		q("30341-2", "СОЭ", "mm/h", 2, 20, nan, nan, 0),
	}},
	{code: "24323-8", display: "Биохимический анализ крови", weight: 0.28, analytes: []analyte{
		q("14749-6", "Глюкоза", "mmol/L", 3.9, 6.1, 2.2, 25, 1),
		q("14682-9", "Креатинин", "umol/L", 62, 115, nan, 700, 0),
		q("22664-7", "Мочевина", "mmol/L", 2.5, 8.3, nan, 35, 1),
		alt, ast, bil,
		q("2885-2", "Белок общий", "g/L", 64, 83, nan, nan, 0),
		q("2951-2", "Натрий", "mmol/L", 136, 145, 120, 160, 0),
		q("2823-3", "Калий", "mmol/L", 3.5, 5.1, 2.5, 6.5, 1),
		q("1988-5", "С-реактивный белок", "mg/L", nan, 5, nan, nan, 1),
	}},
	{code: "57698-3", display: "Липидный профиль", weight: 0.10, analytes: []analyte{
		q("14647-2", "Холестерин общий", "mmol/L", nan, 5.2, nan, nan, 2),
		q("14927-8", "Триглицериды", "mmol/L", nan, 1.7, nan, nan, 2),
		q("14646-4", "Холестерин ЛПВП", "mmol/L", 1.0, 2.2, nan, nan, 2),
		q("22748-8", "Холестерин ЛПНП", "mmol/L", nan, 3.0, nan, nan, 2),
	}},
	{code: "24325-3", display: "Печёночные пробы", weight: 0.05, analytes: []analyte{
		alt, ast, bil,
		q("2324-2", "ГГТ", "U/L", nan, 55, nan, nan, 0),
		q("6768-6", "Щелочная фосфатаза", "U/L", 40, 129, nan, nan, 0),
	}},
	{code: "38875-1", display: "Коагулограмма", weight: 0.04, analytes: []analyte{
		q("5902-2", "Протромбиновое время", "s", 9.4, 12.5, nan, 30, 1),
		q("6301-6", "МНО", "{INR}", 0.8, 1.2, nan, 5, 2),
		q("3173-2", "АЧТВ", "s", 25.4, 36.9, nan, 100, 1),
		q("3255-7", "Фибриноген", "g/L", 2.0, 4.0, 1.0, nan, 2),
	}},
	{code: "24356-8", display: "Общий анализ мочи", weight: 0.05, analytes: []analyte{
		q("5803-2", "pH мочи", "[pH]", 5.0, 7.0, nan, nan, 1),
		q("5811-5", "Удельный вес мочи", "1", 1.010, 1.025, nan, nan, 3),
		{code: "5804-0", display: "Белок в моче", coded: true},
		{code: "5792-7", display: "Глюкоза в моче", coded: true},
		q("5821-4", "Лейкоциты в моче", "/[HPF]", 0, 5, nan, nan, 0),
		q("13945-1", "Эритроциты в моче", "/[HPF]", 0, 2, nan, nan, 0),
	}},
	{code: "11502-2", display: "Лабораторное исследование", weight: 0.03, pick: 2, analytes: []analyte{
		q("4548-4", "Гликированный гемоглобин (HbA1c)", "%", 4.0, 6.0, nan, nan, 1),
		q("3016-3", "ТТГ", "m[IU]/L", 0.4, 4.0, nan, nan, 2),
		q("2276-4", "Ферритин", "ug/L", 20, 250, nan, nan, 0),
		q("62292-8", "25-OH витамин D", "ng/mL", 30, 100, nan, nan, 1),
	}},
}

// Urine strip results (SNOMED CT).
var stripResults = []domain.Coding{
	{System: "http://snomed.info/sct", Code: "260385009", Display: "отрицательно"},
	{System: "http://snomed.info/sct", Code: "260405006", Display: "следы"},
	{System: "http://snomed.info/sct", Code: "260347006", Display: "+"},
	{System: "http://snomed.info/sct", Code: "260348001", Display: "++"},
}

// reportSkel is one report of a patient before ids are assigned.
type reportSkel struct {
	patient   int32
	ord       int32
	panel     uint8
	n         uint8
	effective int64
}

// patientReports splits patient i's observations into reports (panels).
func (d *Dataset) patientReports(i int) []reportSkel {
	p := d.Patients[i]
	if p.NObs == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed+1, uint64(i)))
	created := d.created(i)
	var list []reportSkel
	for left := int(p.NObs); left > 0; {
		u, k := r.Float64(), 0
		for k < len(panels)-1 && u >= panels[k].weight {
			u -= panels[k].weight
			k++
		}
		n := len(panels[k].analytes)
		if panels[k].pick > 0 {
			n = 1 + r.IntN(panels[k].pick)
		}
		n = min(n, left)
		left -= n
		list = append(list, reportSkel{patient: int32(i), ord: int32(len(list)), panel: uint8(k), n: uint8(n),
			effective: created + r.Int64N(max(spanEnd-created, 1))})
	}
	return list
}

// allReports lists every report in the order a clinic would have received
// them (by time), which fixes report and observation ids: a patient's rows
// are spread through the tables as they are in a database filled over years.
func (d *Dataset) allReports() []reportSkel {
	list := make([]reportSkel, 0, d.Stats.Reports)
	for i := range d.Patients {
		list = append(list, d.patientReports(i)...)
	}
	sort.Slice(list, func(a, b int) bool {
		x, y := &list[a], &list[b]
		if x.effective != y.effective {
			return x.effective < y.effective
		}
		if x.patient != y.patient {
			return x.patient < y.patient
		}
		return x.ord < y.ord
	})
	return list
}

// build fills the report and its observations for skeleton rs.
func (d *Dataset) build(rs reportSkel, rep *domain.DiagnosticReport, obs []domain.Observation) []domain.Observation {
	r := rand.New(rand.NewPCG(seed+2, uint64(rs.patient)<<24|uint64(rs.ord)))
	pn := &panels[rs.panel]
	org := d.OrgIDs[d.Patients[rs.patient].Org]
	eff := time.UnixMicro(rs.effective).UTC()
	issued := eff.Add(time.Duration(1+r.IntN(36*60)) * time.Minute)
	*rep = domain.DiagnosticReport{OrganizationID: org, PatientID: ID(int(rs.patient)),
		Code:   domain.Coding{System: domain.SystemLOINC, Code: pn.code, Display: pn.display},
		Status: "final", Effective: eff, Issued: issued}
	if r.IntN(200) == 0 {
		rep.Status = "corrected"
	}
	first := 0
	if pn.pick > 0 {
		first = r.IntN(len(pn.analytes))
	}
	obs = obs[:0]
	for k := 0; k < int(rs.n); k++ {
		a := &pn.analytes[(first+k)%len(pn.analytes)]
		o := domain.Observation{OrganizationID: org, PatientID: rep.PatientID,
			Code:   domain.Coding{System: domain.SystemLOINC, Code: a.code, Display: a.display},
			Status: rep.Status, Effective: eff, Issued: issued}
		if a.coded {
			c := stripResults[0]
			if u := r.IntN(100); u >= 85 {
				c = stripResults[1+(u-85)%3]
			}
			o.ValueCoding = &c
			o.ReferenceRange = &domain.ReferenceRange{Text: "отрицательно"}
			o.Interpretation = domain.InterpNormal
			if c.Code != stripResults[0].Code {
				o.Interpretation = domain.InterpAbnormal
			}
		} else {
			o.ValueQuantity, o.ReferenceRange, o.Interpretation = value(r, a)
		}
		obs = append(obs, o)
	}
	return obs
}

// value draws a result: mostly normal, some outside the range, a few
// critical, rounded as the analyzer reports it.
func value(r *rand.Rand, a *analyte) (*domain.Quantity, *domain.ReferenceRange, string) {
	lo, hi := a.low, a.high
	if math.IsNaN(lo) {
		lo = 0
	}
	width := hi - lo
	var v float64
	switch u := r.IntN(100); {
	case u < 82:
		v = lo + width*r.Float64()
	case u < 90 && !math.IsNaN(a.low):
		v = lo - width*0.4*r.Float64()
	case u < 98:
		v = hi + width*0.6*r.Float64()
	default:
		if !math.IsNaN(a.critHigh) {
			v = a.critHigh * (1 + 0.3*r.Float64())
		} else {
			v = hi + width*2*r.Float64()
		}
	}
	v = max(v, 0)
	p := math.Pow(10, float64(a.decimals))
	v = math.Round(v*p) / p
	qty := &domain.Quantity{Value: v, Unit: a.unit}
	rr := &domain.ReferenceRange{}
	if !math.IsNaN(a.low) {
		rr.Low = ptr(a.low)
	}
	rr.High = ptr(a.high)
	interp := domain.InterpNormal
	switch {
	case !math.IsNaN(a.critLow) && v < a.critLow:
		interp = domain.InterpCriticalLow
	case !math.IsNaN(a.low) && v < a.low:
		interp = domain.InterpLow
	case !math.IsNaN(a.critHigh) && v > a.critHigh:
		interp = domain.InterpCriticalHigh
	case v > a.high:
		interp = domain.InterpHigh
	}
	if a.code == "1988-5" && v < 0.5 { // below the CRP assay's limit
		qty.Value, qty.Comparator = 0.5, "<"
	}
	return qty, rr, interp
}

func ptr(f float64) *float64 { return &f }

// Imaging.

type studyKind struct {
	modality, description, bodyPart, sopClass string
	weight                                    float64
	series, minInst, maxInst                  int
	size                                      int64
}

var studyKinds = []studyKind{
	{"DX", "Рентгенография органов грудной клетки", "CHEST", "1.2.840.10008.5.1.4.1.1.1.1", 0.50, 1, 1, 2, 8 << 20},
	{"PX", "Ортопантомография", "JAW", "1.2.840.10008.5.1.4.1.1.1.1", 0.20, 1, 1, 1, 6 << 20},
	{"MG", "Маммография", "BREAST", "1.2.840.10008.5.1.4.1.1.1.2", 0.10, 1, 4, 4, 20 << 20},
	{"CT", "КТ органов грудной клетки", "CHEST", "1.2.840.10008.5.1.4.1.1.2", 0.15, 3, 60, 300, 525 << 10},
	{"CT", "КЛКТ челюстей", "JAW", "1.2.840.10008.5.1.4.1.1.2", 0.05, 1, 200, 450, 300 << 10},
}

// studies builds patient i's imaging studies (UIDs from the patient and
// study ordinal, so they are unique without ids).
func (d *Dataset) studies(i int) []domain.ImagingStudy {
	n := int(d.Patients[i].NStudies)
	if n == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed+3, uint64(i)))
	org := int(d.Patients[i].Org)
	created := d.created(i)
	list := make([]domain.ImagingStudy, n)
	for s := range list {
		u, k := r.Float64(), 0
		for k < len(studyKinds)-1 && u >= studyKinds[k].weight {
			u -= studyKinds[k].weight
			k++
		}
		sk := studyKinds[k]
		started := time.UnixMicro(created + r.Int64N(max(spanEnd-created, 1))).UTC()
		uid := fmt.Sprintf("%s.2.%d.%d", orgUIDRoots[org], i+1, s+1)
		st := domain.ImagingStudy{OrganizationID: d.OrgIDs[org], PatientID: ID(i), StudyInstanceUID: uid,
			AccessionNumber: fmt.Sprintf("R%07d%d", i+1, s+1), Modalities: []string{sk.modality}, Description: sk.description,
			Started: &started, Status: "available", Updated: started.Add(20 * time.Minute)}
		for se := 0; se < sk.series; se++ {
			series := domain.ImagingSeries{UID: fmt.Sprintf("%s.%d", uid, se+1), Number: se + 1, Modality: sk.modality,
				Description: sk.description, BodyPart: sk.bodyPart}
			ni := sk.minInst + r.IntN(sk.maxInst-sk.minInst+1)
			for in := 0; in < ni; in++ {
				sop := fmt.Sprintf("%s.%d", series.UID, in+1)
				var h [32]byte
				for b := 0; b < 32; b += 8 {
					v := r.Uint64()
					for j := 0; j < 8; j++ {
						h[b+j] = byte(v >> (8 * j))
					}
				}
				series.Instances = append(series.Instances, domain.ImagingInstance{SOPInstanceUID: sop, SOPClassUID: sk.sopClass,
					Number: in + 1, TransferSyntax: "1.2.840.10008.1.2.1", Size: sk.size + r.Int64N(sk.size/8+1),
					SHA256: hex.EncodeToString(h[:]), Location: "dicom/" + uid + "/" + sop + ".dcm"})
			}
			series.NumberOfInstances = len(series.Instances)
			st.NumberOfInstances += len(series.Instances)
			st.Series = append(st.Series, series)
		}
		st.NumberOfSeries = len(st.Series)
		list[s] = st
	}
	return list
}
