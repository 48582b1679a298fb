package kith_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocs enforces the house rule that every package says what it is and
// every exported name has a doc comment.
func TestDocs(t *testing.T) {
	dirs := map[string]bool{}
	filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == "bench") && path != "." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	if len(dirs) < 5 {
		t.Fatalf("found only %d packages", len(dirs))
	}
	for dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		for _, pkg := range pkgs {
			files := make([]*ast.File, 0, len(pkg.Files))
			for _, f := range pkg.Files {
				files = append(files, f)
			}
			p, err := doc.NewFromFiles(fset, files, "example.org/"+dir)
			if err != nil {
				t.Errorf("%s: %v", dir, err)
				continue
			}
			if strings.TrimSpace(p.Doc) == "" {
				t.Errorf("package %s (%s) has no package doc comment", p.Name, dir)
			}
			if p.Name == "main" {
				continue
			}
			check := func(kind, name, text string) {
				if ast.IsExported(name) && strings.TrimSpace(text) == "" {
					t.Errorf("%s: exported %s %s has no doc comment", dir, kind, name)
				}
			}
			for _, f := range p.Funcs {
				check("func", f.Name, f.Doc)
			}
			for _, typ := range p.Types {
				check("type", typ.Name, typ.Doc)
				for _, f := range typ.Funcs {
					check("func", f.Name, f.Doc)
				}
				for _, m := range typ.Methods {
					check("method", typ.Name+"."+m.Name, m.Doc)
				}
			}
			for _, v := range append(p.Vars, p.Consts...) {
				if strings.TrimSpace(v.Doc) == "" {
					for _, n := range v.Names {
						check("value", n, "")
					}
				}
			}
		}
	}
}
