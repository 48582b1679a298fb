package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Selector says which process may receive an entry's identity: a type (the
// attestor that can observe it, such as "unix") and a value that attestor
// reports (such as "uid:1000"). Written as "type:value".
type Selector struct {
	Type  string
	Value string
}

// String returns the selector as "type:value".
func (s Selector) String() string { return s.Type + ":" + s.Value }

// maxSelectorLen bounds a selector's text, and so what an entry stores.
const maxSelectorLen = 512

// ParseSelector parses "type:value". The type is lowercase letters, digits,
// '_' or '-'; the value is non-empty printable text. Selectors of type
// "unix" are checked further: "uid:N", "gid:N", "user:NAME", "group:NAME",
// "path:/absolute/path" and "sha256:<64 lowercase hex digits>" are the only
// forms. It returns a *ValidationError naming field "selectors".
func ParseSelector(s string) (Selector, error) {
	bad := func(format string, a ...any) (Selector, error) {
		return Selector{}, &ValidationError{Field: "selectors", Reason: fmt.Sprintf("selector %q: ", truncate(s)) + fmt.Sprintf(format, a...)}
	}
	if len(s) > maxSelectorLen {
		return bad("longer than %d bytes", maxSelectorLen)
	}
	typ, value, ok := strings.Cut(s, ":")
	if !ok || typ == "" {
		return bad("want type:value, such as unix:uid:1000")
	}
	for _, r := range typ {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return bad("type may hold only a-z, 0-9, '_' and '-'")
		}
	}
	if value == "" {
		return bad("empty value")
	}
	for _, r := range value {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return bad("value holds a control or invalid character")
		}
	}
	if typ == "unix" {
		if err := checkUnixValue(value); err != nil {
			return bad("%v", err)
		}
	}
	return Selector{Type: typ, Value: value}, nil
}

func checkUnixValue(v string) error {
	key, arg, ok := strings.Cut(v, ":")
	if !ok || arg == "" {
		return fmt.Errorf("unix selectors are uid:N, gid:N, user:NAME, group:NAME, path:/ABS or sha256:HEX")
	}
	switch key {
	case "uid", "gid":
		if n, err := strconv.ParseUint(arg, 10, 32); err != nil || strconv.FormatUint(n, 10) != arg {
			return fmt.Errorf("%s must be a decimal number", key)
		}
	case "user", "group":
		if strings.ContainsAny(arg, ": /") {
			return fmt.Errorf("%s name may not contain ':', '/' or spaces", key)
		}
	case "path":
		if !strings.HasPrefix(arg, "/") {
			return fmt.Errorf("path must be absolute")
		}
	case "sha256":
		if len(arg) != 64 || strings.Trim(arg, "0123456789abcdef") != "" {
			return fmt.Errorf("sha256 must be 64 lowercase hex digits")
		}
	default:
		return fmt.Errorf("unknown unix selector %q (want uid, gid, user, group, path or sha256)", key)
	}
	return nil
}

// ParseSelectors parses and canonicalises a selector list: sorted, without
// duplicates. An entry needs at least one selector.
func ParseSelectors(ss []string) ([]Selector, error) {
	if len(ss) == 0 {
		return nil, &ValidationError{Field: "selectors", Reason: "at least one selector is required"}
	}
	if len(ss) > 64 {
		return nil, &ValidationError{Field: "selectors", Reason: "at most 64 selectors"}
	}
	out := make([]Selector, 0, len(ss))
	for _, s := range ss {
		sel, err := ParseSelector(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sel)
	}
	slices.SortFunc(out, func(a, b Selector) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
