package infra

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// What the code declares, read from its source so the test follows the
// code as it changes: the functions it registers and the settings each
// one's Config requires.

const ffFunctions = "github.com/GoogleCloudPlatform/functions-framework-go/functions"

// registration is a function registered with functions-framework-go.
type registration struct {
	Name  string // entry point
	Kind  string // "HTTP" or "CloudEvent"
	Dir   string // its package, relative to the repository root
	Where string // file:line
}

// registrations finds every functions.HTTP("Name", …) and
// functions.CloudEvent("Name", …) call under root/functions.
func registrations(t *testing.T, root string) map[string]registration {
	t.Helper()
	out := map[string]registration{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "functions"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		alias := importName(f, ffFunctions)
		if alias == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HTTP" && sel.Sel.Name != "CloudEvent") {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != alias {
				return true
			}
			pos := fset.Position(call.Pos())
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: functions.%s registers a name that is not a string literal", pos, sel.Sel.Name)
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			if prev, dup := out[name]; dup {
				t.Errorf("%s: function %q registered again (first at %s)", pos, name, prev.Where)
			}
			out[name] = registration{Name: name, Kind: sel.Sel.Name, Dir: filepath.ToSlash(rel), Where: pos.String()}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// importName is the name f uses for the package at path ("" if f does not
// import it).
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

// setting is one environment variable a Config reads.
type setting struct {
	Name     string
	Required bool
	Field    string // where: package.Type.Field
}

// configReader reads go-envconfig tags from struct types in the module's
// source, following embedded structs into other packages of the module.
type configReader struct {
	root, module string
	pkgs         map[string]map[string]*ast.TypeSpec // dir -> type name -> spec
	files        map[string][]*ast.File
}

func newConfigReader(t *testing.T, root string) *configReader {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var module string
	for line := range strings.Lines(string(gomod)) {
		if m, ok := strings.CutPrefix(line, "module "); ok {
			module = strings.TrimSpace(m)
		}
	}
	if module == "" {
		t.Fatal("go.mod names no module")
	}
	return &configReader{root: root, module: module, pkgs: map[string]map[string]*ast.TypeSpec{}, files: map[string][]*ast.File{}}
}

// load parses the non-test files of the package in dir.
func (c *configReader) load(t *testing.T, dir string) map[string]*ast.TypeSpec {
	t.Helper()
	if types, ok := c.pkgs[dir]; ok {
		return types
	}
	types := map[string]*ast.TypeSpec{}
	paths, _ := filepath.Glob(filepath.Join(c.root, dir, "*.go"))
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		c.files[dir] = append(c.files[dir], f)
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					types[ts.Name.Name] = ts
				}
			}
		}
	}
	c.pkgs[dir] = types
	return types
}

// Config returns the settings read by the Config of the function package in
// dir (or its legacy stand-in) and where that type is.
func (c *configReader) Config(t *testing.T, dir string) ([]setting, string) {
	t.Helper()
	if _, ok := c.load(t, dir)["Config"]; !ok {
		t.Errorf("%s exports no Config: every function package declares what it reads from its environment", dir)
		return nil, ""
	}
	var out []setting
	c.walk(t, dir, "Config", &out, 0)
	return out, dir + ".Config"
}

// walk appends the settings of struct type name in dir, and of its
// embedded structs.
func (c *configReader) walk(t *testing.T, dir, name string, out *[]setting, depth int) {
	t.Helper()
	if depth > 10 {
		t.Fatalf("%s.%s: embedding too deep", dir, name)
	}
	spec, ok := c.load(t, dir)[name]
	if !ok {
		t.Errorf("type %s not found in %s", name, dir)
		return
	}
	st, ok := spec.Type.(*ast.StructType)
	if !ok {
		if alias, ok := c.typeRef(dir, spec.Type); ok {
			c.walk(t, alias[0], alias[1], out, depth+1)
		}
		return
	}
	for _, f := range st.Fields.List {
		var tag string
		if f.Tag != nil {
			raw, _ := strconv.Unquote(f.Tag.Value)
			tag = reflect.StructTag(raw).Get("env")
		}
		envName, opts, _ := strings.Cut(tag, ",")
		envName = strings.TrimSpace(envName)
		if envName == "" {
			// Embedded or nested struct without a name of its own (a
			// prefix= option would matter here; none is used).
			if strings.Contains(opts, "prefix=") {
				t.Errorf("%s.%s: env prefix= is not understood by this test", dir, name)
			}
			if ref, ok := c.typeRef(dir, f.Type); ok {
				c.walk(t, ref[0], ref[1], out, depth+1)
			}
			continue
		}
		required := false
		for o := range strings.SplitSeq(opts, ",") {
			if strings.TrimSpace(o) == "required" {
				required = true
			}
		}
		field := name
		if len(f.Names) > 0 {
			field += "." + f.Names[0].Name
		}
		*out = append(*out, setting{Name: envName, Required: required, Field: dir + "." + field})
	}
}

// typeRef resolves a type expression to (dir, name) within the module.
func (c *configReader) typeRef(dir string, e ast.Expr) ([2]string, bool) {
	switch e := e.(type) {
	case *ast.StarExpr:
		return c.typeRef(dir, e.X)
	case *ast.Ident:
		if _, ok := c.pkgs[dir][e.Name]; ok {
			return [2]string{dir, e.Name}, true
		}
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			return [2]string{}, false
		}
		for _, f := range c.files[dir] {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				local := path[strings.LastIndex(path, "/")+1:]
				if imp.Name != nil {
					local = imp.Name.Name
				}
				if local != pkg.Name {
					continue
				}
				rel, ok := strings.CutPrefix(path, c.module+"/")
				if !ok {
					return [2]string{}, false // outside the module: no settings of ours
				}
				return [2]string{rel, e.Sel.Name}, true
			}
		}
	}
	return [2]string{}, false
}
