package remediation

import (
	"strconv"
	"strings"
)

// Position is a place in a ladder file.
type Position struct {
	File   string
	Line   int
	Column int
}

// String returns "file:line:column", leaving out what is unknown.
func (p Position) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}

// Error is a problem in a ladder file, placed where it was found.
type Error struct {
	// Pos is where the problem is.
	Pos Position
	// Ladder is the name of the ladder it is in, if any.
	Ladder string
	// Field is the path of the field at fault, such as
	// "ladders[0].steps[2].action"; empty for the file as a whole.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns `file:line:col: ladder "name": field: message`.
func (e *Error) Error() string {
	var b strings.Builder
	if p := e.Pos.String(); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	if e.Ladder != "" {
		b.WriteString("ladder ")
		b.WriteString(strconv.Quote(e.Ladder))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem [Parse] found, in file order; never empty
// when returned.
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
