package clidoc

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// The completion scripts share one idea: the words typed so far that name
// commands (the others are flags and their values) make a path such as
// " entry create"; at that path the script offers the subcommands, or,
// for a word starting with '-', the flags, and otherwise leaves
// completion to file names. A value that happens to be a command name
// extends the path only where that command exists below it.

// Bash writes a bash completion script for root, loaded with
// `source <(kith completion bash)`.
func Bash(w io.Writer, root *Command) error {
	if err := checkNames(root); err != nil {
		return err
	}
	nodes := walk(root)
	fn := "_" + funcName(root.Name)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# bash completion for %s. Load it with: source <(%s completion bash)\n", root.Name, root.Name)
	fmt.Fprintf(bw, "%s() {\n", fn)
	fmt.Fprint(bw, "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" w i words\n")
	fmt.Fprint(bw, "    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	fmt.Fprint(bw, "        w=\"${COMP_WORDS[i]}\"\n")
	fmt.Fprint(bw, "        case \"$w\" in -*) continue ;; esac\n")
	fmt.Fprint(bw, "        case \"$path $w\" in\n")
	for _, n := range nodes[1:] {
		fmt.Fprintf(bw, "        %q) path=\"$path $w\" ;;\n", n.path)
	}
	fmt.Fprint(bw, "        esac\n    done\n")
	fmt.Fprint(bw, "    if [[ $cur == -* ]]; then\n        case \"$path\" in\n")
	for _, n := range nodes {
		if len(n.cmd.Flags) > 0 {
			fmt.Fprintf(bw, "        %q) words=%q ;;\n", n.path, strings.Join(typedFlags(n.cmd), " "))
		}
	}
	fmt.Fprint(bw, "        esac\n    else\n        case \"$path\" in\n")
	for _, n := range nodes {
		if len(n.cmd.Subcommands) > 0 {
			fmt.Fprintf(bw, "        %q) words=%q ;;\n", n.path, strings.Join(subNames(n.cmd), " "))
		}
	}
	fmt.Fprint(bw, "        esac\n    fi\n")
	fmt.Fprint(bw, "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\n")
	fmt.Fprintf(bw, "complete -o default -F %s %s\n", fn, root.Name)
	return bw.Flush()
}

// Zsh writes a zsh completion script for root, loaded with
// `source <(kith completion zsh)` or installed as _kith in $fpath.
func Zsh(w io.Writer, root *Command) error {
	if err := checkNames(root); err != nil {
		return err
	}
	nodes := walk(root)
	fn := "_" + funcName(root.Name)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "#compdef %s\n# zsh completion for %s. Load it with: source <(%s completion zsh)\n", root.Name, root.Name, root.Name)
	fmt.Fprintf(bw, "%s() {\n", fn)
	// $path is zsh's PATH array: the command path is cmdpath.
	fmt.Fprint(bw, "    local cmdpath=\"\" w i\n    local -a subs flags\n")
	fmt.Fprint(bw, "    for ((i = 2; i < CURRENT; i++)); do\n")
	fmt.Fprint(bw, "        w=${words[i]}\n")
	fmt.Fprint(bw, "        [[ $w == -* ]] && continue\n")
	fmt.Fprint(bw, "        case \"$cmdpath $w\" in\n")
	for _, n := range nodes[1:] {
		fmt.Fprintf(bw, "        (%s) cmdpath=\"$cmdpath $w\" ;;\n", zshQuote(n.path))
	}
	fmt.Fprint(bw, "        esac\n    done\n    case \"$cmdpath\" in\n")
	for _, n := range nodes {
		if len(n.cmd.Flags) == 0 && len(n.cmd.Subcommands) == 0 {
			continue
		}
		fmt.Fprintf(bw, "    (%s)\n", zshQuote(n.path))
		for _, s := range n.cmd.Subcommands {
			fmt.Fprintf(bw, "        subs+=(%s)\n", zshQuote(s.Name+":"+describeEscape(s.Summary)))
		}
		for _, f := range n.cmd.Flags {
			fmt.Fprintf(bw, "        flags+=(%s)\n", zshQuote(f.Typed()+":"+describeEscape(firstLine(f.Usage))))
		}
		fmt.Fprint(bw, "        ;;\n")
	}
	fmt.Fprint(bw, "    esac\n")
	fmt.Fprint(bw, "    if [[ ${words[CURRENT]} == -* ]]; then\n        _describe -t flags flag flags\n")
	fmt.Fprint(bw, "    elif (( ${#subs} )); then\n        _describe -t commands command subs\n")
	fmt.Fprint(bw, "    else\n        _files\n    fi\n}\n")
	fmt.Fprintf(bw, "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    %s \"$@\"\nelse\n    compdef %s %s\nfi\n", fn, fn, root.Name)
	return bw.Flush()
}

// Fish writes a fish completion script for root, loaded with
// `kith completion fish | source` or installed in completions/kith.fish.
func Fish(w io.Writer, root *Command) error {
	if err := checkNames(root); err != nil {
		return err
	}
	nodes := walk(root)
	fn := "__" + funcName(root.Name)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# fish completion for %s. Load it with: %s completion fish | source\n", root.Name, root.Name)
	fmt.Fprintf(bw, "function %s_paths\n", fn)
	for _, n := range nodes[1:] {
		fmt.Fprintf(bw, "    echo %s\n", fishQuote(n.path))
	}
	fmt.Fprint(bw, "end\n")
	fmt.Fprintf(bw, "function %s_path\n", fn)
	fmt.Fprint(bw, "    set -l p ''\n    set -l known ("+fn+"_paths)\n")
	fmt.Fprint(bw, "    for t in (commandline -opc)[2..-1]\n")
	fmt.Fprint(bw, "        string match -q -- '-*' $t; and continue\n")
	fmt.Fprint(bw, "        contains -- \"$p $t\" $known; and set p \"$p $t\"\n")
	fmt.Fprint(bw, "    end\n    echo $p\nend\n")
	fmt.Fprintf(bw, "function %s_at\n    test (%s_path) = \"$argv[1]\"\nend\n", fn, fn)
	for _, n := range nodes {
		cond := fmt.Sprintf("%s_at %s", fn, fishQuote(n.path))
		for _, s := range n.cmd.Subcommands {
			fmt.Fprintf(bw, "complete -c %s -n %s -f -a %s -d %s\n", root.Name, fishQuote(cond), s.Name, fishQuote(s.Summary))
		}
		for _, f := range n.cmd.Flags {
			opt := "-l " + f.Name
			if len(f.Name) == 1 {
				opt = "-s " + f.Name
			}
			req := " -r"
			if f.Bool {
				req = ""
			}
			fmt.Fprintf(bw, "complete -c %s -n %s %s%s -d %s\n", root.Name, fishQuote(cond), opt, req, fishQuote(firstLine(f.Usage)))
		}
	}
	return bw.Flush()
}

// typedFlags returns the flags of c as typed.
func typedFlags(c *Command) []string {
	out := make([]string, len(c.Flags))
	for i, f := range c.Flags {
		out[i] = f.Typed()
	}
	return out
}

// subNames returns the names of c's subcommands.
func subNames(c *Command) []string {
	out := make([]string, len(c.Subcommands))
	for i, s := range c.Subcommands {
		out[i] = s.Name
	}
	return out
}

// funcName makes name usable in a shell function name.
func funcName(name string) string { return strings.NewReplacer("-", "_", ".", "_").Replace(name) }

// zshQuote quotes s for zsh in single quotes.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// describeEscape escapes the colons of a _describe description.
func describeEscape(s string) string { return strings.ReplaceAll(s, ":", `\:`) }

// fishQuote quotes s for fish in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
