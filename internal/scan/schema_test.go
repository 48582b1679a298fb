package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// A JSON Schema (draft-04) validator of the keywords the SARIF 2.1.0
// schema uses, written for the test: go.mod has no schema library, and
// one is not worth a dependency for one test. It refuses a schema keyword
// it does not know rather than skip it, so a check cannot silently not
// happen.

// schema is a loaded JSON schema, with the definitions $ref points into.
type schema struct {
	root map[string]any
}

// loadSchema reads the schema at path.
func loadSchema(t testing.TB, path string) *schema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &schema{root: root}
}

// validate returns every way the JSON document doc breaks the schema.
func (s *schema) validate(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	s.check(s.root, v, "$", &errs)
	return errs
}

// annotations are keywords that constrain nothing.
var annotations = []string{"description", "default", "title", "$schema", "id", "definitions"}

// check validates v at path against sch, adding what is wrong to errs.
func (s *schema) check(sch map[string]any, v any, path string, errs *[]string) {
	fail := func(format string, a ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, a...)) }
	if ref, ok := sch["$ref"].(string); ok {
		target, err := s.resolve(ref)
		if err != nil {
			fail("%v", err)
			return
		}
		s.check(target, v, path, errs)
	}
	for key, kw := range sch {
		switch key {
		case "$ref", "properties", "additionalProperties": // $ref above; properties with additionalProperties below
		case "type":
			if !hasType(kw, v) {
				fail("is %s, want type %v", jsonType(v), kw)
			}
		case "enum":
			if !slices.ContainsFunc(kw.([]any), func(e any) bool { return jsonEqual(e, v) }) {
				fail("%v is not one of %v", v, kw)
			}
		case "required":
			if m, ok := v.(map[string]any); ok {
				for _, r := range kw.([]any) {
					if _, ok := m[r.(string)]; !ok {
						fail("lacks required property %q", r)
					}
				}
			}
		case "items":
			if a, ok := v.([]any); ok {
				for i, item := range a {
					s.check(kw.(map[string]any), item, fmt.Sprintf("%s[%d]", path, i), errs)
				}
			}
		case "minItems":
			if a, ok := v.([]any); ok && len(a) < toInt(kw) {
				fail("has %d items, want at least %v", len(a), kw)
			}
		case "uniqueItems":
			if a, ok := v.([]any); ok && kw == true {
				seen := map[string]bool{}
				for _, item := range a {
					b, _ := json.Marshal(item)
					if seen[string(b)] {
						fail("repeats item %s", b)
					}
					seen[string(b)] = true
				}
			}
		case "minimum", "maximum":
			if n, ok := v.(json.Number); ok {
				x, _ := n.Float64()
				bound, _ := kw.(float64)
				if key == "minimum" && x < bound || key == "maximum" && x > bound {
					fail("%v is out of range (%s %v)", n, key, bound)
				}
			}
		case "pattern":
			if str, ok := v.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				fail("%q does not match %s", str, kw)
			}
		case "format":
			if str, ok := v.(string); ok {
				if err := checkFormat(kw.(string), str); err != nil {
					fail("%q: %v", str, err)
				}
			}
		case "anyOf", "oneOf":
			n := 0
			for _, alt := range kw.([]any) {
				var sub []string
				s.check(alt.(map[string]any), v, path, &sub)
				if len(sub) == 0 {
					n++
				}
			}
			if n == 0 || key == "oneOf" && n > 1 {
				fail("matches %d of the %s alternatives", n, key)
			}
		default:
			if !slices.Contains(annotations, key) {
				fail("the test's validator does not know the schema keyword %q", key)
			}
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	props, _ := sch["properties"].(map[string]any)
	for name, val := range m {
		if p, ok := props[name]; ok {
			s.check(p.(map[string]any), val, path+"."+name, errs)
			continue
		}
		switch extra := sch["additionalProperties"].(type) {
		case bool:
			if !extra {
				fail("has property %q, which the schema does not allow", name)
			}
		case map[string]any:
			s.check(extra, val, path+"."+name, errs)
		}
	}
}

// resolve follows a local $ref such as "#/definitions/result".
func (s *schema) resolve(ref string) (map[string]any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = s.root
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, part)
		}
		cur = m[part]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q leads nowhere", ref)
	}
	return m, nil
}

func hasType(want any, v any) bool {
	if list, ok := want.([]any); ok {
		return slices.ContainsFunc(list, func(w any) bool { return hasType(w, v) })
	}
	got := jsonType(v)
	return got == want || want == "number" && got == "integer"
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if strings.ContainsAny(v.String(), ".eE") {
			return "number"
		}
		return "integer"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func toInt(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func checkFormat(format, s string) error {
	switch format {
	case "uri":
		u, err := url.Parse(s)
		if err == nil && !u.IsAbs() {
			err = fmt.Errorf("not an absolute URI")
		}
		return err
	case "uri-reference":
		_, err := url.Parse(s)
		return err
	case "date-time":
		_, err := time.Parse(time.RFC3339, s)
		return err
	}
	return fmt.Errorf("the test's validator does not know the format %q", format)
}
