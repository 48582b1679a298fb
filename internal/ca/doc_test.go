package ca

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestDocs enforces the style rule: a package doc that says what the
// package must not do, and a doc comment on every exported name that
// starts with the name.
func TestDocs(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	if len(files) == 0 {
		t.Fatal("no source files")
	}
	var pkgDoc string
	for name, f := range files {
		if f.Doc != nil {
			if pkgDoc != "" {
				t.Errorf("%s: second package doc comment", name)
			}
			pkgDoc = f.Doc.Text()
		}
		for _, decl := range f.Decls {
			checkDeclDoc(t, fset, decl)
		}
	}
	if !strings.HasPrefix(pkgDoc, "Package ca ") || !strings.Contains(pkgDoc, "must not") {
		t.Errorf("package doc must start with \"Package ca\" and say what the package must not do:\n%s", pkgDoc)
	}
}

func checkDeclDoc(t *testing.T, fset *token.FileSet, decl ast.Decl) {
	t.Helper()
	check := func(name string, doc *ast.CommentGroup, pos token.Pos, prefix bool) {
		if !ast.IsExported(name) {
			return
		}
		switch {
		case doc == nil:
			t.Errorf("%s: %s has no doc comment", fset.Position(pos), name)
		case prefix && !strings.HasPrefix(doc.Text(), name+" "):
			t.Errorf("%s: doc comment of %s does not start with its name", fset.Position(pos), name)
		}
	}
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil {
			recv := d.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); !ok || !ast.IsExported(id.Name) {
				return
			}
		}
		check(d.Name.Name, d.Doc, d.Pos(), true)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				doc := s.Doc
				if doc == nil && len(d.Specs) == 1 {
					doc = d.Doc
				}
				check(s.Name.Name, doc, s.Pos(), true)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					doc := s.Doc
					if doc == nil {
						doc = d.Doc // a documented group covers its members
					}
					check(n.Name, doc, n.Pos(), false)
				}
			}
		}
	}
}
