package policy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Change kinds.
const (
	ChangeCreated   = "created"
	ChangeUpdated   = "updated"
	ChangeDeleted   = "deleted"
	ChangeUnchanged = "unchanged"
)

// Change is what applying a document does to one policy of a set.
type Change struct {
	// Name is the policy's name.
	Name string `json:"name"`
	// Kind is created, updated, deleted or unchanged.
	Kind string `json:"kind"`
	// Diff, for updated, shows the changed lines of the policy's JSON
	// form, or its YAML form for [DiffYAML] ("-" old, "+" new, " "
	// context).
	Diff string `json:"diff,omitempty"`
}

// Diff compares the documents to apply with the current set: each
// applied document is created, updated or unchanged (documents of the set
// that are not applied stay as they are). Changes are sorted by name.
func Diff(current, applied []Document) []Change {
	return diff(current, applied, canonicalJSON)
}

// DiffYAML is [Diff] with the changed lines shown in the documents' YAML
// form (see [MarshalYAML]), for people who write policies in YAML.
func DiffYAML(current, applied []Document) []Change {
	return diff(current, applied, func(d *Document) []byte {
		b, err := MarshalYAML(*d)
		if err != nil {
			return []byte("<" + err.Error() + ">")
		}
		return bytes.TrimSuffix(b, []byte("\n"))
	})
}

// diff is Diff showing changed documents in the form show gives them;
// whether a document changed is decided on its canonical JSON.
func diff(current, applied []Document, show func(*Document) []byte) []Change {
	cur := make(map[string]*Document, len(current))
	for i := range current {
		cur[current[i].Name] = &current[i]
	}
	var out []Change
	for i := range applied {
		d := &applied[i]
		old, ok := cur[d.Name]
		if !ok {
			out = append(out, Change{Name: d.Name, Kind: ChangeCreated})
			continue
		}
		a, b := canonicalJSON(old), canonicalJSON(d)
		if bytes.Equal(a, b) {
			out = append(out, Change{Name: d.Name, Kind: ChangeUnchanged})
			continue
		}
		out = append(out, Change{Name: d.Name, Kind: ChangeUpdated, Diff: lineDiff(string(show(old)), string(show(d)))})
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// canonicalJSON is the indented JSON form of d, used to compare and show
// documents; documents that fail to encode compare unequal to anything.
func canonicalJSON(d *Document) []byte {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return []byte("<" + err.Error() + ">")
	}
	return b
}

// maxDiffLines bounds the documents lineDiff compares line by line.
const maxDiffLines = 2000

// lineDiff returns the lines that differ between a and b with one line of
// context, from a longest common subsequence.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		return "- (" + strconv.Itoa(len(x)) + " lines)\n+ (" + strconv.Itoa(len(y)) + " lines)\n"
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ls []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ls = append(ls, line{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ls = append(ls, line{'-', x[i]})
			i++
		default:
			ls = append(ls, line{'+', y[j]})
			j++
		}
	}
	var sb strings.Builder
	for k, l := range ls {
		near := l.op != ' ' || k > 0 && ls[k-1].op != ' ' || k+1 < len(ls) && ls[k+1].op != ' '
		if !near {
			continue
		}
		sb.WriteByte(l.op)
		sb.WriteByte(' ')
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}
