package hl7

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/hl7/*/expected.json (and the copied and synthetic inputs) from what the code does now")

const (
	casesDir  = "../../testdata/hl7"
	corpusDir = "../../../shared/corpus/hl7"
)

// caseOptions is options.json in a case folder: the device profile the
// case is parsed with. Absent means the zero Options.
type caseOptions struct {
	DefaultCharset string  `json:"default_charset"`
	Lenient        Lenient `json:"lenient"`
}

func readCaseOptions(t *testing.T, dir string) Options {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "options.json"))
	if errors.Is(err, os.ErrNotExist) {
		return Options{}
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var co caseOptions
	if err := dec.Decode(&co); err != nil {
		t.Fatalf("options.json: %v", err)
	}
	return Options{DefaultCharset: co.DefaultCharset, Lenient: co.Lenient}
}

func caseDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(casesDir, "*", "input.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatal("no golden cases found")
	}
	return dirs
}

// TestGolden parses every case with ParseBatch and compares a stable JSON
// dump of the result with expected.json. It also checks, per case, that
// Parse agrees with ParseBatch on single messages and that every message
// survives Encode and Parse unchanged.
func TestGolden(t *testing.T) {
	for _, dir := range caseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(dir, "input.hl7"))
			if err != nil {
				t.Fatal(err)
			}
			opts := readCaseOptions(t, dir)
			msgs, err := ParseBatch(input, opts)
			got := dumpResult(msgs, err)

			if len(msgs) == 1 && msgs[0] != nil {
				single, err := Parse(input, opts)
				isBatch := bytes.HasPrefix(input, []byte("FHS")) || bytes.HasPrefix(input, []byte("BHS"))
				if isBatch && errors.Is(err, ErrBatch) {
					// a one-message batch is still a batch
				} else if err != nil {
					t.Errorf("Parse fails where ParseBatch succeeds: %v", err)
				} else if !single.Equal(msgs[0]) {
					t.Errorf("Parse and ParseBatch disagree")
				}
			}
			for i, m := range msgs {
				if m == nil {
					continue
				}
				checkRoundTrip(t, m, opts, i+1)
				// Offsets point into the input (in its own charset).
				for _, s := range m.Segments {
					if !bytes.HasPrefix(input[s.Offset:], []byte(s.Name)) {
						t.Errorf("message %d segment %d: offset %d does not point at %s", i+1, s.Index, s.Offset, s.Name)
					}
				}
			}

			path := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dump differs from expected.json (run go test -update and review the diff):\n%s", firstDiff(string(want), string(got)))
			}
		})
	}
}

func checkRoundTrip(t *testing.T, m *Message, opts Options, idx int) {
	t.Helper()
	enc := m.Encode()
	o := opts
	o.DefaultCharset = m.Charset
	back, err := Parse(enc, o)
	if err != nil {
		t.Errorf("message %d: Encode output does not parse: %v", idx, err)
		return
	}
	if !back.Equal(m) {
		t.Errorf("message %d: Parse(Encode(m)) != m", idx)
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs)"
}

// TestCorpusCopied checks that every corpus message has a case folder with
// a byte-identical input.hl7 (-update copies missing or stale ones).
func TestCorpusCopied(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.hl7"))
	if len(files) == 0 {
		t.Skip("shared corpus not present next to the checkout")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hl7")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(casesDir, name, "input.hl7")
		have, err := os.ReadFile(dst)
		if err == nil && bytes.Equal(have, src) {
			continue
		}
		if !*update {
			t.Errorf("%s: missing or differs from the corpus (run go test -update)", dst)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// --- the dump ---------------------------------------------------------

func dumpResult(msgs []*Message, err error) []byte {
	out := map[string]any{}
	if msgs != nil {
		list := make([]any, len(msgs))
		for i, m := range msgs {
			if m != nil {
				list[i] = dumpMessage(m)
			}
		}
		out["messages"] = list
	}
	if err != nil {
		out["error"] = dumpError(err)
	}
	var buf bytes.Buffer
	writeJSON(&buf, toTree(out), "")
	buf.WriteByte('\n')
	return buf.Bytes()
}

// toTree turns anything encoding/json can marshal into maps, slices and
// scalars, so that writeJSON controls the layout.
func toTree(v any) any {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	dec := json.NewDecoder(&buf)
	dec.UseNumber()
	var t any
	if err := dec.Decode(&t); err != nil {
		panic(err)
	}
	return t
}

// writeJSON writes indented JSON with keys sorted, putting arrays of
// scalars (a segment's fields, a field's components) and small flat objects
// on one line so that a golden file reads segment by segment.
func writeJSON(b *bytes.Buffer, v any, indent string) {
	if inline, ok := inlineJSON(v); ok {
		b.WriteString(inline)
		return
	}
	inner := indent + "  "
	switch x := v.(type) {
	case []any:
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner)
			writeJSON(b, e, inner)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{\n")
		for i, k := range keys {
			b.WriteString(inner + scalarJSON(k) + ": ")
			writeJSON(b, x[k], inner)
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	default:
		b.WriteString(scalarJSON(v))
	}
}

func scalarJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// inlineJSON renders v on one line when it is a scalar, an array holding
// no objects, or an object of scalars short enough to read at a glance.
func inlineJSON(v any) (string, bool) {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if _, isObj := e.(map[string]any); isObj {
				return "", false
			}
			s, ok := inlineJSON(e)
			if !ok {
				return "", false
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			switch x[k].(type) {
			case map[string]any, []any:
				return "", false
			}
			parts[i] = scalarJSON(k) + ": " + scalarJSON(x[k])
		}
		s := "{" + strings.Join(parts, ", ") + "}"
		return s, len(s) <= 100
	}
	return scalarJSON(v), true
}

var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNoMSH", ErrNoMSH}, {"ErrDelimiters", ErrDelimiters}, {"ErrCharset", ErrCharset},
	{"ErrTooLarge", ErrTooLarge}, {"ErrBatch", ErrBatch}, {"ErrSegment", ErrSegment},
	{"ErrRequired", ErrRequired}, {"ErrValue", ErrValue},
}

func dumpError(err error) map[string]any {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	return map[string]any{"text": err.Error(), "is": names}
}

func dumpMessage(m *Message) map[string]any {
	segs := make([]any, len(m.Segments))
	for i := range m.Segments {
		s := &m.Segments[i]
		fields := make([]any, s.NumFields())
		for n := 1; n <= s.NumFields(); n++ {
			fields[n-1] = dumpField(s.Field(n))
		}
		d := map[string]any{"segment": s.Name, "index": s.Index, "offset": s.Offset, "fields": fields}
		if typed := dumpTyped(s); len(typed) > 0 {
			d["typed"] = typed
		}
		segs[i] = d
	}
	return map[string]any{
		"charset":    m.Charset,
		"delimiters": m.Delimiters().String(),
		"segments":   segs,
	}
}

// Fields: a string when simple, null for the explicit null "", {"reps":
// [...]} for repetitions, an array for components, {"subs": [...]} for
// subcomponents. Strings are unescaped.
func dumpField(v Value) any {
	if v.IsNull() {
		return nil
	}
	if v.NumReps() > 1 {
		var reps []any
		for _, r := range v.Reps() {
			reps = append(reps, dumpRep(r))
		}
		return map[string]any{"reps": reps}
	}
	return dumpRep(v.Rep(1))
}

func dumpRep(r Value) any {
	if r.IsNull() {
		return nil
	}
	if r.NumComps() > 1 {
		var comps []any
		for _, c := range r.Comps() {
			comps = append(comps, dumpComp(c))
		}
		return comps
	}
	return dumpComp(r.Comp(1))
}

func dumpComp(c Value) any {
	if c.IsNull() {
		return nil
	}
	if c.NumSubs() > 1 {
		var subs []any
		for _, s := range c.Subs() {
			if s.IsNull() {
				subs = append(subs, nil)
			} else {
				subs = append(subs, s.String())
			}
		}
		return map[string]any{"subs": subs}
	}
	return c.String()
}

var typedViews = map[string]func(*Segment) any{
	"MSH": func(s *Segment) any { return MSH{s} },
	"PID": func(s *Segment) any { return PID{s} },
	"PD1": func(s *Segment) any { return PD1{s} },
	"PV1": func(s *Segment) any { return PV1{s} },
	"ORC": func(s *Segment) any { return ORC{s} },
	"OBR": func(s *Segment) any { return OBR{s} },
	"OBX": func(s *Segment) any { return OBX{s} },
	"NTE": func(s *Segment) any { return NTE{s} },
	"SPM": func(s *Segment) any { return SPM{s} },
	"SAC": func(s *Segment) any { return SAC{s} },
	"TQ1": func(s *Segment) any { return TQ1{s} },
	"MSA": func(s *Segment) any { return MSA{s} },
	"ERR": func(s *Segment) any { return ERR{s} },
	"QRD": func(s *Segment) any { return QRD{s} },
	"QPD": func(s *Segment) any { return QPD{s} },
	"MRG": func(s *Segment) any { return MRG{s} },
}

// dumpTyped calls every no-argument accessor of the segment's typed view
// (those promoted from *Segment excepted) and records non-zero results, so
// that a new accessor shows up in the golden files without test changes.
func dumpTyped(s *Segment) map[string]any {
	out := map[string]any{}
	callAccessors(s, func(name string, r reflect.Value, err error) {
		if err != nil {
			out[name] = map[string]any{"error": err.Error()}
			return
		}
		if r.IsZero() || (r.Kind() == reflect.Slice && r.Len() == 0) {
			return
		}
		switch x := r.Interface().(type) {
		case Value:
			if x.Raw() != "" {
				out[name] = map[string]any{"raw": x.Raw(), "text": x.Text()}
			}
		case ObsValue:
			out[name] = dumpObsValue(x)
			if o := (OBX{s}); o.Field(5).NumReps() > 1 {
				var vs []any
				for _, v := range o.Values() {
					vs = append(vs, dumpObsValue(v))
				}
				out["Values"] = vs
			}
		default:
			out[name] = x
		}
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// accessorIndex caches, per segment ID, the method indices callAccessors
// calls: reflection lookups dominate the fuzz targets otherwise.
var accessorIndex = func() map[string][]int {
	segType := reflect.TypeOf(&Segment{})
	errType := reflect.TypeOf((*error)(nil)).Elem()
	out := map[string][]int{}
	for name, mk := range typedViews {
		vt := reflect.TypeOf(mk(nil))
		for i := 0; i < vt.NumMethod(); i++ {
			meth := vt.Method(i)
			if _, promoted := segType.MethodByName(meth.Name); promoted || meth.Name == "Values" {
				continue
			}
			mt := meth.Type // includes the receiver
			if mt.NumIn() != 1 || mt.NumOut() == 0 || mt.NumOut() > 2 || (mt.NumOut() == 2 && mt.Out(1) != errType) {
				continue
			}
			out[name] = append(out[name], i)
		}
	}
	return out
}()

// callAccessors calls each no-argument accessor of the segment's typed view.
func callAccessors(s *Segment, fn func(name string, r reflect.Value, err error)) {
	mk, ok := typedViews[s.Name]
	if !ok {
		return
	}
	view := reflect.ValueOf(mk(s))
	for _, i := range accessorIndex[s.Name] {
		res := view.Method(i).Call(nil)
		var err error
		if len(res) == 2 && !res[1].IsNil() {
			err = res[1].Interface().(error)
		}
		fn(view.Type().Method(i).Name, res[0], err)
	}
}

func dumpObsValue(v ObsValue) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	if v.Err != nil {
		m["error"] = v.Err.Error()
	}
	return m
}
