package policy

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// DefaultCostLimit is the CEL cost a condition may spend on one call when
// [CompileOptions.CostLimit] is zero: enough for comparisons, list
// membership and comprehensions over small lists, far too little for an
// expression to run away.
const DefaultCostLimit = 10_000

// maxWhenLength caps the size of one condition, in bytes.
const maxWhenLength = 4096

// isCELVar reports whether name is one of the variables conditions see.
func isCELVar(name string) bool {
	switch name {
	case "request", "caller", "token", "trust":
		return true
	}
	return false
}

// newCELEnv returns the environment conditions are checked in: request,
// caller, token and trust as typed objects (fields named as in the JSON
// form of [Input]), the standard library, optional types and the strings
// extension.
func newCELEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(
			reflect.TypeFor[Request](), reflect.TypeFor[Caller](), reflect.TypeFor[Token](), reflect.TypeFor[Trust](),
			ext.ParseStructTag("json"),
		),
		cel.Variable("request", cel.ObjectType("policy.Request")),
		cel.Variable("caller", cel.ObjectType("policy.Caller")),
		cel.Variable("token", cel.ObjectType("policy.Token")),
		cel.Variable("trust", cel.ObjectType("policy.Trust")),
		cel.OptionalTypes(),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxWhenLength),
		cel.ParserRecursionLimit(64),
	)
	if err != nil {
		return nil, fmt.Errorf("policy: CEL environment: %w", err)
	}
	return env, nil
}

// condition is a compiled when expression.
type condition struct {
	src  string
	prog cel.Program
	// inputs are the fields it reads, such as "trust.score".
	inputs []string
}

// celIssue is one problem with a condition, at a place in its text
// (1-based line, 0-based column).
type celIssue struct {
	line, col int
	msg       string
}

// compileCondition checks src and returns its program, limited to cost
// CEL cost units per evaluation.
func compileCondition(env *cel.Env, src string, cost uint64) (*condition, []celIssue) {
	if len(src) > maxWhenLength {
		return nil, []celIssue{{msg: fmt.Sprintf("condition is longer than %d bytes", maxWhenLength)}}
	}
	checked, iss := env.Compile(src)
	if iss.Err() != nil {
		var out []celIssue
		for _, e := range iss.Errors() {
			out = append(out, celIssue{line: e.Location.Line(), col: e.Location.Column(), msg: e.Message})
		}
		return nil, out
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, []celIssue{{line: 1, msg: fmt.Sprintf("condition must be a bool, not %s", checked.OutputType())}}
	}
	prog, err := env.Program(checked, cel.CostLimit(cost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []celIssue{{line: 1, msg: err.Error()}}
	}
	return &condition{src: src, prog: prog, inputs: referencedInputs(checked.NativeRep().Expr())}, nil
}

// referencedInputs lists the fields of the input variables an expression
// reads ("token.claims"), or the variable itself when used whole.
func referencedInputs(root ast.Expr) []string {
	var out []string
	ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			sel := e.AsSelect()
			if op := sel.Operand(); op.Kind() == ast.IdentKind && isCELVar(op.AsIdent()) {
				out = append(out, op.AsIdent()+"."+sel.FieldName())
			}
		case ast.IdentKind:
			if isCELVar(e.AsIdent()) {
				out = append(out, e.AsIdent())
			}
		}
	}))
	// A variable read only through its fields is named by the fields.
	out = slices.DeleteFunc(out, func(s string) bool {
		return !strings.Contains(s, ".") && slices.ContainsFunc(out, func(o string) bool { return strings.HasPrefix(o, s+".") })
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// ErrCondition wraps every error of evaluating a condition; the call is
// then denied.
var ErrCondition = errors.New("condition failed")

// eval runs the condition over in. It returns an error wrapping
// [ErrCondition] when the expression fails, exceeds its cost limit or
// yields no bool.
func (c *condition) eval(in *Input) (bool, error) {
	in.act.in = in
	out, _, err := c.prog.Eval(&in.act)
	in.act.in = nil
	if err != nil {
		var cancel interpreter.EvalCancelledError
		if errors.As(err, &cancel) && cancel.Cause == interpreter.CostLimitExceeded {
			return false, fmt.Errorf("%w: cost limit exceeded", ErrCondition)
		}
		return false, fmt.Errorf("%w: %v", ErrCondition, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%w: result is %s, not a bool", ErrCondition, out.Type().TypeName())
	}
	return b, nil
}

// activation resolves the condition variables to the fields of an Input
// without building maps: it lives inside the Input and is reused.
type activation struct {
	in *Input
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return &a.in.Request, true
	case "caller":
		return &a.in.Caller, true
	case "token":
		return &a.in.Token, true
	case "trust":
		return &a.in.Trust, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }
