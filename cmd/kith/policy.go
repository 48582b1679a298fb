package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/policy"
)

// runPolicy is `kith policy`: manage and check authorization policies.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "policy", []subcommand{
		{"apply", "validate policies in files and store them as a new revision", runPolicyApply},
		{"list", "list the stored policies", runPolicyList},
		{"show", "show a stored policy", runPolicyShow},
		{"delete", "delete a stored policy", runPolicyDelete},
		{"diff", "show what applying files would change", runPolicyDiff},
		{"lint", "find unreachable and shadowed rules (offline)", runPolicyLint},
		{"fmt", "rewrite policy files in canonical form, like opa fmt (offline)", runPolicyFmt},
		{"test", "check policies against request cases (offline)", runPolicyTest},
		{"explain", "show how every rule fares for one request", runPolicyExplain},
	}, args, stdout, stderr)
}

// readPolicies reads and compiles the policy files; errors name file,
// line and field.
func readPolicies(paths []string) ([]policy.Document, *policy.Set, error) {
	var docs []policy.Document
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("read policies: %w", err)
		}
		d, err := policy.Parse(p, b)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid policies:\n%w", err)
		}
		docs = append(docs, d...)
	}
	set, err := policy.Compile(docs, policy.CompileOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("invalid policies:\n%w", err)
	}
	return docs, set, nil
}

// policyFlags registers -f (repeatable) on fs.
func policyFlags(fs *flag.FlagSet, what string) *stringList {
	files := &stringList{}
	fs.Var(files, "f", what+" (repeatable)")
	return files
}

// storedPolicies reads the stored set through the admin API.
func storedPolicies(ctx context.Context, c *adminclient.Client) (*api.PolicySet, []policy.Document, error) {
	set, err := c.GetPolicies(ctx)
	if err != nil {
		return nil, nil, err
	}
	docs := make([]policy.Document, 0, len(set.Policies))
	for _, raw := range set.Policies {
		d, err := policy.UnmarshalDocument(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("stored policy set, revision %d: %w", set.Revision, err)
		}
		docs = append(docs, d)
	}
	return set, docs, nil
}

// runPolicyApply is `kith policy apply`.
func runPolicyApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy apply", "-f FILE... [flags]",
		"Validate the policies in the files and store them as one new revision of the\n"+
			"policy set: each policy is created or replaced by name; the others are kept.\n"+
			"Nothing is stored if any policy is invalid.", stderr)
	files := policyFlags(fs, "a YAML file of policies, one or more documents separated by ---")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if len(files.vs) == 0 {
		return usagef(fs, "-f is required")
	}
	docs, _, err := readPolicies(files.vs)
	if err != nil {
		return err
	}
	raws := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		if raws[i], err = json.Marshal(d); err != nil {
			return err
		}
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	res, err := c.ApplyPolicies(ctx, raws)
	if err != nil {
		return err
	}
	if cf.json() {
		return cf.encode(stdout, res)
	}
	writeChanges(stdout, res.Changes)
	fmt.Fprintf(stdout, "Revision: %d\n", res.Revision)
	return nil
}

// writeChanges prints one line per policy change, with the diff of an
// update.
func writeChanges(w io.Writer, changes []api.PolicyChange) {
	for _, ch := range changes {
		fmt.Fprintf(w, "%s %s\n", ch.Kind, ch.Name)
		for l := range strings.Lines(ch.Diff) {
			fmt.Fprintf(w, "    %s", l)
		}
	}
}

// runPolicyList is `kith policy list`.
func runPolicyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy list", "[flags]", "List the policies of the stored set.", stderr)
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	set, docs, err := storedPolicies(ctx, c)
	if err != nil {
		return err
	}
	return cf.write(stdout, set, func(w io.Writer) {
		fmt.Fprintf(w, "Revision %d, %d policies\n", set.Revision, len(docs))
		fmt.Fprintln(w, "NAME\tTARGET\tMODE\tRULES")
		for _, d := range docs {
			mode := d.Mode
			if mode == "" {
				mode = policy.ModeEnforce
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", d.Name, d.Target, mode, len(d.Rules))
		}
	})
}

// runPolicyShow is `kith policy show`.
func runPolicyShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy show", "[flags] NAME", "Show a stored policy as YAML (or JSON with -o json).", stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	p, err := c.GetPolicy(ctx, pos[0])
	if err != nil {
		return err
	}
	if cf.json() {
		return cf.encode(stdout, p)
	}
	d, err := policy.UnmarshalDocument(p.Policy)
	if err != nil {
		return err
	}
	y, err := policy.MarshalYAML(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# revision %d\n%s", p.Revision, y)
	return nil
}

// runPolicyDelete is `kith policy delete`.
func runPolicyDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "policy delete", "[flags] NAME", "Delete a stored policy, as a new revision of the set.", args, stdout, stderr,
		(*adminclient.Client).DeletePolicy, func(w io.Writer, res *api.PolicyApplyResult) {
			for _, ch := range res.Changes {
				fmt.Fprintf(w, "Deleted policy %s. ", ch.Name)
			}
			fmt.Fprintf(w, "Revision: %d\n", res.Revision)
		})
}

// runPolicyDiff is `kith policy diff`.
func runPolicyDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy diff", "-f FILE... [flags]",
		"Show what 'kith policy apply' with the same files would change in the stored set,\n"+
			"with the changed lines of each updated policy in YAML.", stderr)
	files := policyFlags(fs, "a YAML file of policies")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if len(files.vs) == 0 {
		return usagef(fs, "-f is required")
	}
	docs, _, err := readPolicies(files.vs)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	set, stored, err := storedPolicies(ctx, c)
	if err != nil {
		return err
	}
	var changes []api.PolicyChange
	for _, ch := range policy.DiffYAML(stored, docs) {
		changes = append(changes, api.PolicyChange{Name: ch.Name, Kind: ch.Kind, Diff: ch.Diff})
	}
	if cf.json() {
		return cf.encode(stdout, api.PolicyApplyResult{Revision: set.Revision, Changes: changes})
	}
	fmt.Fprintf(stdout, "Against revision %d:\n", set.Revision)
	writeChanges(stdout, changes)
	return nil
}

// runPolicyLint is `kith policy lint`.
func runPolicyLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy lint", "-f FILE...",
		"Check policy files for rules that can never match (unreachable), rules that\n"+
			"never decide because a stronger rule always matches too (shadowed), redundant\n"+
			"rules and policies that deny everything. Works offline; exits 1 on findings.\n"+
			"(Allow rules wider than a target's observed callers need the behaviour\n"+
			"engine and are not checked yet.)", stderr)
	files := policyFlags(fs, "a YAML file of policies")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if len(files.vs) == 0 {
		return usagef(fs, "-f is required")
	}
	docs, _, err := readPolicies(files.vs)
	if err != nil {
		return err
	}
	findings, err := policy.Lint(docs)
	if err != nil {
		return err
	}
	if err := policy.WriteFindings(stdout, findings); err != nil {
		return err
	}
	if len(findings) > 0 {
		return fmt.Errorf("policy lint: %d problem(s)", len(findings))
	}
	return nil
}

// runPolicyTest is `kith policy test`.
func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy test", "-f POLICIES... -c CASES... [-v]",
		"Decide each request case of the case files with the policies and compare the\n"+
			"result with the expected action (and rule, and dry-run action, if given).\n"+
			"Works offline; exits 1 if a case fails.", stderr)
	files := policyFlags(fs, "a YAML file of policies")
	cases := &stringList{}
	fs.Var(cases, "c", "a YAML file of test cases (repeatable)")
	verbose := fs.Bool("v", false, "list passing cases too")
	coverage := fs.Bool("coverage", false, "also report which rules no case reached, like opa test --coverage")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if len(files.vs) == 0 || len(cases.vs) == 0 {
		return usagef(fs, "-f and -c are required")
	}
	docs, set, err := readPolicies(files.vs)
	if err != nil {
		return err
	}
	var all []policy.TestCase
	for _, p := range cases.vs {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read cases: %w", err)
		}
		cs, err := policy.ParseTests(p, b)
		if err != nil {
			return err
		}
		all = append(all, cs...)
	}
	rep := policy.RunTests(set, all)
	if err := rep.WriteText(stdout, *verbose); err != nil {
		return err
	}
	if *coverage {
		if err := policy.CoverageOf(docs, set, all).WriteText(stdout); err != nil {
			return err
		}
	}
	if rep.Failed > 0 {
		return fmt.Errorf("policy test: %d of %d cases failed", rep.Failed, rep.Failed+rep.Passed)
	}
	return nil
}

// runPolicyExplain is `kith policy explain`.
func runPolicyExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy explain", "--request JSON|@FILE [-f FILE...] [flags]",
		"Decide one request and show every rule considered and why it matched or not.\n"+
			"With -f the policies come from files (offline); without, from the stored set.", stderr)
	files := policyFlags(fs, "a YAML file of policies (default: the stored set)")
	request := fs.String("request", "", "the request: a JSON input (target, caller, token, request, trust), or @FILE")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *request == "" {
		return usagef(fs, "--request is required")
	}
	raw := []byte(*request)
	if path, ok := strings.CutPrefix(*request, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		raw = b
	}
	in, err := policy.ParseInput(raw)
	if err != nil {
		return err
	}
	var set *policy.Set
	if len(files.vs) > 0 {
		if _, set, err = readPolicies(files.vs); err != nil {
			return err
		}
	} else {
		c, err := cf.client()
		if err != nil {
			return err
		}
		stored, docs, err := storedPolicies(ctx, c)
		if err != nil {
			return err
		}
		if set, err = policy.Compile(docs, policy.CompileOptions{Revision: stored.Revision}); err != nil {
			return errors.Join(errors.New("the stored policy set does not compile"), err)
		}
	}
	ex := set.Explain(in)
	if cf.json() {
		return cf.encode(stdout, ex)
	}
	return ex.WriteText(stdout)
}

// runPolicyFmt is `kith policy fmt`.
func runPolicyFmt(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy fmt", "[-w | -l | --check] FILE...",
		"Print policy files in canonical form, like opa fmt: fields in the documented\n"+
			"order, block mappings, short lists in flow style, quotes only where needed,\n"+
			"comments kept. -w rewrites the files; -l lists those not in canonical form;\n"+
			"--check does that and exits 1 if there are any (for CI). Files must be valid.", stderr)
	write := fs.Bool("w", false, "rewrite the files in place")
	listOnly := fs.Bool("l", false, "list the files whose formatting differs")
	check := fs.Bool("check", false, "list the files whose formatting differs and exit 1 if there are any")
	files, err := parseAnyArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef(fs, "give one or more policy files")
	}
	if *write && (*listOnly || *check) {
		return usagef(fs, "-w goes without -l and --check")
	}
	var differ []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("policy fmt: %w", err)
		}
		out, err := policy.Format(f, data)
		if err != nil {
			return fmt.Errorf("invalid policies:\n%w", err)
		}
		same := bytes.Equal(out, data)
		switch {
		case *listOnly || *check:
			if !same {
				differ = append(differ, f)
				fmt.Fprintln(stdout, f)
			}
		case *write:
			if !same {
				if err := writeFileKeepMode(f, out); err != nil {
					return fmt.Errorf("policy fmt: %w", err)
				}
			}
		default:
			if _, err := stdout.Write(out); err != nil {
				return err
			}
		}
	}
	if *check && len(differ) > 0 {
		return fmt.Errorf("policy fmt: %d file(s) not in canonical form: run kith policy fmt -w", len(differ))
	}
	return nil
}

// writeFileKeepMode replaces the contents of path, keeping its mode.
func writeFileKeepMode(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, fi.Mode().Perm())
}
