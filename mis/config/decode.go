package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Decode reads one YAML document from r over c: settings present in the
// document replace c's values, absent ones keep them; a list in the
// document (devices:) replaces the whole list. name is the file name used
// in errors ("medgate.yaml:7: …"). Decode checks the document's shape and
// types; Validate checks the values. On error c is unchanged.
//
// The document is first parsed into a yaml.Node tree and walked against
// Config's yaml tags, so that every unknown key, repeated key and
// wrongly-typed value is reported with its line in medgate's own words; only
// then is it decoded, with yaml's KnownFields as a second guard.
func Decode(r io.Reader, name string, c *Config) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	// Decode into a copy so that c stays untouched if yaml disagrees with
	// the walk (it should not).
	tmp := deepCopy(reflect.ValueOf(c).Elem()).Interface().(Config)
	w, err := decodeInto(data, name, "the config file", &tmp)
	if err != nil || w == nil {
		return err // w == nil: empty, comments only, or "---" alone: all defaults
	}
	*c = tmp
	// A copy of a Config shares its map; give this one its own.
	c.src = maps.Clone(c.src)
	if c.src == nil {
		c.src = map[string]string{}
	}
	// A list read from this file replaces the old one, and with it where
	// the old items came from.
	for _, list := range w.lists {
		for k := range c.src {
			if strings.HasPrefix(k, list+"[") {
				delete(c.src, k)
			}
		}
	}
	for path, line := range w.lines {
		c.src[path] = at(name, line)
	}
	return nil
}

// DecodeYAML decodes one YAML document into v, a non-nil pointer to a
// struct, as strictly as Decode reads medgate's config: every unknown key,
// repeated key and wrongly-typed value is an error naming name:line, all of
// them reported at once. Keys present in the document replace v's values,
// absent ones keep them; a list replaces the whole list. On error v is
// unchanged. An empty document (or comments only) changes nothing.
//
// v's fields are matched by their yaml tags (fields without one cannot be
// set) and may be structs, pointers to structs or to single values, slices
// of any of these, and single values: string, bool, integers, floats and
// time.Duration (written "90s"). Other types are a programming error,
// reported without reading data.
func DecodeYAML(data []byte, name string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config.DecodeYAML: need a non-nil pointer to a struct, got %T", v)
	}
	t := rv.Elem().Type()
	if err := checkType(t, t.String(), map[reflect.Type]bool{}); err != nil {
		return err
	}
	tmp := reflect.New(t)
	tmp.Elem().Set(deepCopy(rv.Elem()))
	w, err := decodeInto(data, name, "the file", tmp.Interface())
	if err != nil {
		return err
	}
	if w != nil {
		rv.Elem().Set(tmp.Elem())
	}
	return nil
}

// decodeInto checks the one YAML document in data against the struct that
// target points to and then decodes it there. what names the file in
// messages ("the config file"). It returns the walk, for the lines of the
// values, or nil for an empty document, which leaves target alone.
func decodeInto(data []byte, name, what string, target any) (*walker, error) {
	top, err := document(data, name, what)
	if err != nil || top == nil {
		return nil, err
	}
	t := reflect.TypeOf(target).Elem()
	w := &walker{name: name, lines: map[string]int{}, scopes: []scope{{t, ""}}, open: map[*yaml.Node]bool{top: true},
		// Without aliases a value takes at least two bytes; aliases may
		// repeat a part a few times over, not multiply it (a "billion laughs").
		maxVisits: 10_000 + 4*len(data)}
	w.section(top, t, "")
	if len(w.errs) > 0 {
		return nil, joinErrors(w.errs)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(target); err != nil {
		return nil, yamlError(err, name, data)
	}
	return w, nil
}

// document parses data as exactly one YAML document whose top level is a
// mapping, and returns that mapping; nil for an empty document.
func document(data []byte, name, what string) (*yaml.Node, error) {
	if err := checkUTF8(data, name); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty, or comments only
		}
		return nil, yamlError(err, name, data)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(err, name, data)
	default:
		return nil, &Error{Where: at(name, next.Line),
			Msg: `a second YAML document starts here; ` + what + ` holds exactly one (remove the "---" line)`}
	}

	top := resolve(doc.Content[0])
	if isNull(top) {
		return nil, nil // "---" or "~" alone: an explicitly empty document
	}
	if top.Kind != yaml.MappingNode {
		return nil, &Error{Where: at(name, top.Line),
			Msg: "the top level must be settings (key: value lines), got " + describe(top)}
	}
	return top, nil
}

var durationType = reflect.TypeFor[time.Duration]()

// walker checks a node tree against a struct type, collecting every problem
// rather than stopping at the first, so one edit fixes a whole file.
type walker struct {
	name  string
	errs  []error
	lines map[string]int // setting path → line of its value
	lists []string       // paths of the lists the document sets
	// scopes is where a misplaced key is looked for elsewhere: the whole
	// document, or inside a list item the item ("devices[2]"), whose keys
	// are unrelated to the rest of the file.
	scopes []scope
	depth  int
	// open holds the sections and lists being walked, to catch an alias
	// to one of them; visits counts values walked, to stop a document whose
	// aliases multiply into millions of values.
	open      map[*yaml.Node]bool
	visits    int
	maxVisits int
	exhausted bool
	// aliasLine, inside a section or list reached through an alias
	// (*name), is the alias's line: values there are recorded as used
	// where the alias is, as a single value's alias is.
	aliasLine int
}

// record notes the line a setting's value came from.
func (w *walker) record(path string, line int) {
	if w.aliasLine != 0 {
		line = w.aliasLine
	}
	w.lines[path] = line
}

type scope struct {
	t    reflect.Type
	path string
}

// maxDepth bounds nesting.
const maxDepth = 64

func (w *walker) errorf(line int, setting, format string, args ...any) {
	w.errs = append(w.errs, &Error{Where: at(w.name, line), Setting: setting, Msg: fmt.Sprintf(format, args...)})
}

// section checks a mapping node against struct type t at path.
func (w *walker) section(n *yaml.Node, t reflect.Type, path string) {
	n = resolve(n)
	if isNull(n) {
		return // "http:" with every line under it commented out: defaults
	}
	if n.Kind != yaml.MappingNode {
		w.errorf(n.Line, path, "%s is a section of settings (key: value lines), got %s", path, describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errorf(k.Line, path, "setting names are plain words, got %s", describe(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.errorf(k.Line, p, "%s is set twice (first at line %d)", p, first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			w.errorf(k.Line, p, "unknown setting %q%s", p, w.suggest(t, path, k.Value))
			continue
		}
		w.value(v, f.Type, p)
	}
}

// value checks node n against type t at path: a section, a list or a
// single value.
func (w *walker) value(n *yaml.Node, t reflect.Type, path string) {
	if w.visits++; w.visits > w.maxVisits {
		if !w.exhausted {
			w.exhausted = true
			w.errorf(n.Line, path, "the document's aliases (*name) expand to too many values")
		}
		return
	}
	if w.depth >= maxDepth {
		w.errorf(n.Line, path, "%s is nested too deeply", path)
		return
	}
	if r := resolve(n); r.Kind == yaml.MappingNode || r.Kind == yaml.SequenceNode {
		if w.open[r] {
			w.errorf(n.Line, path, "%s is an alias (*%s) to a section or list that contains it", path, n.Value)
			return
		}
		w.open[r] = true
		defer delete(w.open, r)
	}
	if n.Kind == yaml.AliasNode && w.aliasLine == 0 {
		w.aliasLine = n.Line
		defer func() { w.aliasLine = 0 }()
	}
	w.depth++
	defer func() { w.depth-- }()
	switch {
	case isSection(t):
		w.section(n, t, path)
	case t.Kind() == reflect.Pointer && isSection(t.Elem()):
		// An optional section: absent (or empty) leaves the pointer nil.
		w.record(path, n.Line)
		w.section(n, t.Elem(), path)
	case t.Kind() == reflect.Pointer:
		// An optional single value (*bool): absent differs from false.
		w.leaf(n, t.Elem(), path)
	case t.Kind() == reflect.Slice:
		w.list(n, t.Elem(), path)
	default:
		w.leaf(n, t, path)
	}
}

// list checks a sequence node whose items are of type elem. Items are
// reported as path[i] ("devices[2].ae_title").
func (w *walker) list(n *yaml.Node, elem reflect.Type, path string) {
	line := n.Line
	n = resolve(n)
	if isNull(n) {
		// "addresses:" with every item commented out: an empty list.
		w.record(path, line)
		w.lists = append(w.lists, path)
		return
	}
	if n.Kind != yaml.SequenceNode {
		w.errorf(line, path, `%s must be a list (a "- " line for each item, or [a, b]), got %s`, path, describe(n))
		return
	}
	w.record(path, line)
	w.lists = append(w.lists, path)
	st := structOf(elem)
	for i, item := range n.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		if isNull(resolve(item)) {
			w.errorf(item.Line, p, `%s is an empty list item (give it a value or remove its "-")`, p)
			continue
		}
		w.record(p, item.Line)
		if st != nil {
			w.scopes = append(w.scopes, scope{st, p})
		}
		w.value(item, elem, p)
		if st != nil {
			w.scopes = w.scopes[:len(w.scopes)-1]
		}
	}
}

// leaf checks a single value against type t. yaml.v3 alone is too lenient
// here: it truncates 1.5 into an int and reads yes/on as true.
func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string) {
	line := n.Line // the alias's line, if it is one: that is where the value is used
	n = resolve(n)
	switch {
	case n.Kind == yaml.MappingNode:
		w.errorf(line, path, "%s takes a single value, not a section", path)
		return
	case n.Kind == yaml.SequenceNode:
		w.errorf(line, path, "%s takes a single value, not a list", path)
		return
	case isNull(n):
		w.errorf(line, path, `%s has no value (write one, or "" for empty, or delete the line to keep the default)`, path)
		return
	}
	tag := n.ShortTag()
	switch {
	case t == durationType:
		if _, err := time.ParseDuration(n.Value); tag != "!!str" || err != nil {
			w.errorf(line, path, `%s must be a duration such as "90s", "15m" or "12h", got %s`, path, describe(n))
			return
		}
	case isInt(t):
		if tag != "!!int" || n.Decode(reflect.New(t).Interface()) != nil {
			hint := ""
			if _, err := strconv.Atoi(n.Value); err == nil && tag == "!!str" {
				hint = " (write the number without quotes)"
			}
			w.errorf(line, path, "%s must be a whole number, got %s%s", path, describe(n), hint)
			return
		}
	case isUint(t):
		if tag != "!!int" || n.Decode(reflect.New(t).Interface()) != nil {
			hint := ""
			if _, err := strconv.ParseUint(n.Value, 10, 64); err == nil && tag == "!!str" {
				hint = " (write the number without quotes)"
			}
			w.errorf(line, path, "%s must be a whole number, 0 or more, got %s%s", path, describe(n), hint)
			return
		}
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32:
		var f float64
		if (tag != "!!float" && tag != "!!int") || n.Decode(&f) != nil ||
			math.IsNaN(f) || math.IsInf(f, 0) || reflect.Zero(t).OverflowFloat(f) {
			hint := ""
			if _, err := strconv.ParseFloat(n.Value, 64); err == nil && tag == "!!str" {
				hint = " (write the number without quotes)"
			}
			w.errorf(line, path, "%s must be a number such as 2 or 0.5, got %s%s", path, describe(n), hint)
			return
		}
	case t.Kind() == reflect.Bool:
		if tag != "!!bool" || (n.Value != "true" && n.Value != "false") {
			w.errorf(line, path, "%s must be true or false, got %s", path, describe(n))
			return
		}
	case t.Kind() == reflect.String:
		// Any scalar reads as its text: "uid_root: 1.2.643" and
		// "inn: 7707083893" are meant as strings.
		if tag == "!!binary" {
			w.errorf(line, path, "%s must be text, got binary data", path)
			return
		}
	default:
		panic("config: no check for setting type " + t.String())
	}
	w.record(path, line)
}

// isSection tells nested settings structs from leaf values.
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != durationType }

// structOf is the settings struct that t is or points to, else nil.
func structOf(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isSection(t) {
		return t
	}
	return nil
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

func isUint(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// checkType reports a field type that the walker has no check for, so that
// DecodeYAML refuses such a struct before reading any data. at names the
// field for the message.
func checkType(t reflect.Type, at string, seen map[reflect.Type]bool) error {
	switch {
	case t == durationType, t.Kind() == reflect.String, t.Kind() == reflect.Bool,
		isInt(t), isUint(t), t.Kind() == reflect.Float32, t.Kind() == reflect.Float64:
		return nil
	case t.Kind() == reflect.Struct:
		if seen[t] {
			return nil
		}
		seen[t] = true
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous {
				return fmt.Errorf("config.DecodeYAML: embedded field %s.%s is not supported", at, f.Name)
			}
			if !f.IsExported() || len(f.Index) > 1 {
				continue
			}
			if name := yamlName(f); name == "" || name == "-" {
				continue // not settable from YAML
			}
			if err := checkType(f.Type, at+"."+f.Name, seen); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Pointer && t.Elem().Kind() != reflect.Slice:
		return checkType(t.Elem(), at, seen)
	case t.Kind() == reflect.Slice:
		return checkType(t.Elem(), at+"[]", seen)
	}
	return fmt.Errorf("config.DecodeYAML: field %s has type %s, which is not supported", at, t)
}

// deepCopy copies v with its own pointers and slices, so that decoding into
// the copy (yaml reuses the pointers it finds) cannot change v.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(deepCopy(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(deepCopy(v.Index(i)))
		}
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v) // unexported fields as they are
		for i := range v.NumField() {
			if c.Field(i).CanSet() {
				c.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return c
	}
	return v
}

// fieldByTag finds the field of struct t whose yaml name is key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	if key == "" || key == "-" {
		return reflect.StructField{}, false
	}
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// settingNames lists the yaml names of struct t's fields, in order.
func settingNames(t reflect.Type) []string {
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && yamlName(f) != "" && yamlName(f) != "-" {
			names = append(names, yamlName(f))
		}
	}
	return names
}

// suggest explains an unknown key: a near miss among its siblings, the same
// name in another section (a key put at the wrong level) of the document or
// of the list item it is in, or the list of what is allowed here.
func (w *walker) suggest(t reflect.Type, path, key string) string {
	names := settingNames(t)
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestD := "", 3
	for _, name := range names {
		d := distance(norm(key), name)
		if d < bestD && d <= utf8.RuneCountInString(key)/2 {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", join(path, best))
	}
	var elsewhere []string
	sc := w.scopes[len(w.scopes)-1]
	for _, p := range allPaths(sc.t, sc.path) {
		if p[strings.LastIndexByte(p, '.')+1:] == norm(key) {
			elsewhere = append(elsewhere, strconv.Quote(p))
		}
	}
	if len(elsewhere) > 0 {
		return " (did you mean " + orList(elsewhere) + "?)"
	}
	if path == "" {
		return " (top-level settings are " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (settings in %q are %s)", path, strings.Join(names, ", "))
}

// allPaths lists every section and leaf path under struct t, not looking
// inside lists (their items are scopes of their own).
func allPaths(t reflect.Type, prefix string) []string {
	return allPathsDepth(t, prefix, 0)
}

func allPathsDepth(t reflect.Type, prefix string, depth int) []string {
	var paths []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || yamlName(f) == "" || yamlName(f) == "-" {
			continue
		}
		p := join(prefix, yamlName(f))
		paths = append(paths, p)
		if st := structOf(f.Type); st != nil && depth < 8 {
			paths = append(paths, allPathsDepth(st, p, depth+1)...)
		}
	}
	return paths
}

func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// resolve follows aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names what a node holds, for "got …" in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		if n.ShortTag() == "!!str" {
			return quote(n.Value)
		}
		return clip(n.Value)
	}
	return "an unsupported YAML node"
}

// quote quotes a value for a message, clipped so that a pasted blob does
// not flood the log.
func quote(s string) string { return strconv.Quote(clip(s)) }

func clip(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func at(name string, line int) string { return name + ":" + strconv.Itoa(line) }

// checkUTF8 rejects files in another encoding (a Windows-1251 file saved by
// Notepad) with the line of the first bad byte, which yaml would not give.
func checkUTF8(data []byte, name string) error {
	if utf8.Valid(data) {
		return nil
	}
	i := 0
	for i < len(data) {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	line := 1 + bytes.Count(data[:i], []byte("\n"))
	return &Error{Where: at(name, line),
		Msg: "the file is not UTF-8 text (save it as UTF-8; Windows-1251 and other code pages are not supported)"}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError restates a yaml.v3 error in medgate's "file:line: message"
// form, one error per line that yaml reports.
func yamlError(err error, name string, data []byte) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(err, name, data)
	}
	var errs []error
	for _, m := range te.Errors {
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			errs = append(errs, &Error{Where: at(name, line), Msg: sm[2]})
		} else {
			errs = append(errs, &Error{Where: name, Msg: m})
		}
	}
	return joinErrors(errs)
}

// syntaxError reports a YAML syntax error at the line where it starts.
// yaml.v3's own line is unreliable here (0-based for parser errors, absent
// on the first line), so the line is found by parsing growing prefixes of
// the file: the error is on the line after the longest prefix that parses.
func syntaxError(err error, name string, data []byte) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if sm := yamlLine.FindStringSubmatch(msg); sm != nil {
		msg = sm[2]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 5000 {
		return &Error{Where: name, Msg: "invalid YAML: " + msg}
	}
	line := 1
	for k := len(lines) - 1; k > 0; k-- {
		if parses(bytes.Join(lines[:k], nil)) {
			line = k + 1
			break
		}
	}
	switch {
	case strings.Contains(msg, "found character that cannot start any token") && tabIndented(lines[line-1]):
		msg = "a tab in the indentation (YAML indents with spaces only)"
	case msg == "found unexpected end of stream":
		msg = "a quote opened on this line is never closed"
	}
	return &Error{Where: at(name, line), Msg: "invalid YAML: " + msg}
}

// parses reports whether data is well-formed YAML (any number of documents).
func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// tabIndented reports whether a line starts with whitespace that contains
// a tab.
func tabIndented(l []byte) bool {
	indent := l[:len(l)-len(bytes.TrimLeft(l, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

// joinErrors is errors.Join, except that one error is returned as itself so
// that callers and tests see the plain *Error.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
