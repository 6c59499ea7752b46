package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Decode reads one YAML document from r over c: settings present in the
// document replace c's values, absent ones keep them. name is the file name
// used in errors ("medgate.yaml:7: …"). Decode checks the document's shape
// and types; Validate checks the values. On error c is unchanged.
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
	if err := checkUTF8(data, name); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty, or comments only: all defaults
		}
		return yamlError(err, name, data)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return yamlError(err, name, data)
	default:
		return &Error{Where: at(name, next.Line),
			Msg: `a second YAML document starts here; the config file holds exactly one (remove the "---" line)`}
	}

	top := resolve(doc.Content[0])
	if isNull(top) {
		return nil // "---" or "~" alone: an explicitly empty document
	}
	if top.Kind != yaml.MappingNode {
		return &Error{Where: at(name, top.Line),
			Msg: "the top level must be settings (key: value lines), got " + describe(top)}
	}
	w := walker{name: name, lines: map[string]int{}}
	w.section(top, reflect.TypeFor[Config](), "")
	if len(w.errs) > 0 {
		return joinErrors(w.errs)
	}

	// Decode into a copy so that c stays untouched if yaml disagrees with
	// the walk (it should not).
	tmp := *c
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&tmp); err != nil {
		return yamlError(err, name, data)
	}
	*c = tmp
	// A copy of a Config shares its map; give this one its own.
	c.src = maps.Clone(c.src)
	if c.src == nil {
		c.src = map[string]string{}
	}
	for path, line := range w.lines {
		c.src[path] = at(name, line)
	}
	return nil
}

var durationType = reflect.TypeFor[time.Duration]()

// walker checks a node tree against a struct type, collecting every problem
// rather than stopping at the first, so one edit fixes a whole file.
type walker struct {
	name  string
	errs  []error
	lines map[string]int // setting path → line of its value
}

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
			w.errorf(k.Line, p, "unknown setting %q%s", p, suggest(t, path, k.Value))
			continue
		}
		if isSection(f.Type) {
			w.section(v, f.Type, p)
		} else {
			w.leaf(v, f.Type, p)
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
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		if tag != "!!int" || n.Decode(reflect.New(t).Interface()) != nil {
			hint := ""
			if _, err := strconv.Atoi(n.Value); err == nil && tag == "!!str" {
				hint = " (write the number without quotes)"
			}
			w.errorf(line, path, "%s must be a whole number, got %s%s", path, describe(n), hint)
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
	w.lines[path] = line
}

// isSection tells nested settings structs from leaf values.
func isSection(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != durationType }

// fieldByTag finds the field of struct t whose yaml name is key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
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
		if f.IsExported() && yamlName(f) != "" {
			names = append(names, yamlName(f))
		}
	}
	return names
}

// suggest explains an unknown key: a near miss among its siblings, the same
// name in another section (a key put at the wrong level), or the list of
// what is allowed here.
func suggest(t reflect.Type, path, key string) string {
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
	for _, p := range allPaths(reflect.TypeFor[Config](), "") {
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

// allPaths lists every section and leaf path under struct t.
func allPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || yamlName(f) == "" {
			continue
		}
		p := join(prefix, yamlName(f))
		paths = append(paths, p)
		if isSection(f.Type) {
			paths = append(paths, allPaths(f.Type, p)...)
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
