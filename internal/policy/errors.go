package policy

import (
	"strconv"
	"strings"
)

// Error is a problem with a policy document, placed where it was found:
// the file, line and column (when the document came from [Parse]), the
// policy and the field.
type Error struct {
	// Pos is where the problem is; Line is zero for documents read from
	// JSON.
	Pos Position
	// Policy is the name of the document, if it has one.
	Policy string
	// Field is the path of the field at fault, such as "rules[1].when";
	// empty for the document as a whole.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line:col: policy "name": field: message".
func (e *Error) Error() string {
	var b strings.Builder
	if p := e.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Policy != "" {
		b.WriteString("policy ")
		b.WriteString(quote(e.Policy))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a set of documents, in the order
// found. [Parse] and [Compile] return one (never empty) when they fail.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns the problems, so that errors.As finds an *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// err returns l as an error, or nil when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// quote returns s in double quotes, escaped as a Go string.
func quote(s string) string { return strconv.Quote(s) }
