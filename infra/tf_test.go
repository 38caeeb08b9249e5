package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// A small Terraform reader: enough of Terraform's evaluation (variables,
// locals, for_each, references between resources) to compare the
// configuration with the code without providers or network. What only a
// provider knows after apply (emails, ids, service names) is filled in
// from the inputs the way Google Cloud forms it (computed, below);
// anything else stays unknown.

// Test values for the variables without a default (a tfvars file would
// hold them), and the project number only Google knows.
var testVars = map[string]cty.Value{
	"project":            cty.StringVal("test-project"),
	"twilio_account_sid": cty.StringVal("ACtest"),
	"twilio_from":        cty.StringVal("whatsapp:+15550100"),
	"admin_members":      cty.ListVal([]cty.Value{cty.StringVal("user:admin@example.com")}),
}

const testProjectNumber = "123456789"

// resource is a resource or data block; instances are filled by eval.
type resource struct {
	Type, Name string
	Data       bool
	File       string
	Block      *hclsyntax.Block
	Instances  map[string]cty.Value // by for_each key; "" without for_each
}

// Addr is the resource's address as Terraform prints it.
func (r *resource) Addr(key string) string {
	a := r.Type + "." + r.Name
	if r.Data {
		a = "data." + a
	}
	if key != "" {
		a += fmt.Sprintf("[%q]", key)
	}
	return a
}

// module is a parsed and evaluated Terraform root module.
type module struct {
	Dir       string
	Files     map[string][]byte
	Vars      map[string]cty.Value
	Locals    map[string]cty.Value
	Resources []*resource
	localExpr map[string]hcl.Expression
	overrides map[string]cty.Value
	varBlocks map[string]*hclsyntax.Block
}

// loadModule parses every .tf file in dir and evaluates it with testVars.
func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	return loadModuleWith(t, dir, nil)
}

// loadModuleWith is loadModule with some variables set otherwise.
func loadModuleWith(t *testing.T, dir string, vars map[string]cty.Value) *module {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	m := &module{Dir: dir, Files: map[string][]byte{}, Vars: map[string]cty.Value{},
		Locals: map[string]cty.Value{}, localExpr: map[string]hcl.Expression{}, overrides: vars,
		varBlocks: map[string]*hclsyntax.Block{}}
	p := hclparse.NewParser()
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m.Files[filepath.Base(path)] = src
		f, diags := p.ParseHCL(src, path)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.declare(t, filepath.Base(path), b)
		}
	}
	m.eval()
	return m
}

func (m *module) declare(t *testing.T, file string, b *hclsyntax.Block) {
	t.Helper()
	switch b.Type {
	case "variable":
		name := b.Labels[0]
		m.varBlocks[name] = b
		if v, ok := m.overrides[name]; ok {
			m.Vars[name] = v
			return
		}
		if v, ok := testVars[name]; ok {
			m.Vars[name] = v
			return
		}
		def, ok := b.Body.Attributes["default"]
		if !ok {
			t.Fatalf("%s: variable %q has no default and no test value in testVars", file, name)
		}
		v, diags := def.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: variable %q: %v", file, name, diags)
		}
		m.Vars[name] = v
	case "locals":
		for name, a := range b.Body.Attributes {
			if _, dup := m.localExpr[name]; dup {
				t.Fatalf("%s: local %q declared twice", file, name)
			}
			m.localExpr[name] = a.Expr
		}
	case "resource", "data":
		m.Resources = append(m.Resources, &resource{
			Type: b.Labels[0], Name: b.Labels[1], Data: b.Type == "data", File: file, Block: b,
		})
	}
}

// eval evaluates locals and resources until nothing changes: each round
// resolves the references the previous one made known.
func (m *module) eval() {
	prev := ""
	for range 30 {
		ctx := m.context()
		for name, e := range m.localExpr {
			m.Locals[name] = value(e, ctx)
		}
		for _, r := range m.Resources {
			r.Instances = m.instances(r, ctx)
		}
		cur := m.fingerprint()
		if cur == prev {
			return
		}
		prev = cur
	}
}

func (m *module) fingerprint() string {
	var b strings.Builder
	for _, name := range sortedKeys(m.Locals) {
		fmt.Fprintf(&b, "%s=%#v\n", name, m.Locals[name])
	}
	for _, r := range m.Resources {
		for _, k := range sortedKeys(r.Instances) {
			fmt.Fprintf(&b, "%s=%#v\n", r.Addr(k), r.Instances[k])
		}
	}
	return b.String()
}

// value evaluates e; what cannot be evaluated yet is unknown.
func value(e hcl.Expression, ctx *hcl.EvalContext) cty.Value {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	return v
}

func (m *module) instances(r *resource, ctx *hcl.EvalContext) map[string]cty.Value {
	fe, ok := r.Block.Body.Attributes["for_each"]
	if !ok {
		return map[string]cty.Value{"": m.instance(r, ctx, cty.NilVal, cty.NilVal)}
	}
	coll := value(fe.Expr, ctx)
	if !coll.IsWhollyKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return nil
	}
	out := map[string]cty.Value{}
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if coll.Type().IsSetType() {
			k = v
		}
		if k.Type() != cty.String {
			continue
		}
		out[k.AsString()] = m.instance(r, ctx, k, v)
	}
	return out
}

func (m *module) instance(r *resource, parent *hcl.EvalContext, key, val cty.Value) cty.Value {
	ctx := parent
	if key != cty.NilVal {
		ctx = parent.NewChild()
		ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": key, "value": val})}
	}
	attrs := evalBody(r.Block.Body, ctx)
	m.computed(r.Type, attrs)
	return cty.ObjectVal(attrs)
}

// evalBody evaluates a block body into attributes, nested blocks becoming
// tuples of objects (service_config[0].service reads as in Terraform).
func evalBody(body *hclsyntax.Body, ctx *hcl.EvalContext) map[string]cty.Value {
	attrs := map[string]cty.Value{}
	for name, a := range body.Attributes {
		if name == "for_each" || name == "count" || name == "depends_on" || name == "provider" {
			continue
		}
		attrs[name] = value(a.Expr, ctx)
	}
	blocks := map[string][]cty.Value{}
	for _, b := range body.Blocks {
		switch b.Type {
		case "lifecycle":
		case "dynamic":
			blocks[b.Labels[0]] = append(blocks[b.Labels[0]], expandDynamic(b, ctx)...)
		default:
			blocks[b.Type] = append(blocks[b.Type], cty.ObjectVal(evalBody(b.Body, ctx)))
		}
	}
	for name, bs := range blocks {
		attrs[name] = cty.TupleVal(bs)
	}
	return attrs
}

// expandDynamic evaluates a dynamic block into the blocks it makes: its
// content once per element of for_each, with the iterator (the block's
// label unless iterator names another) as {key, value}. An unknown
// for_each makes no block.
func expandDynamic(b *hclsyntax.Block, ctx *hcl.EvalContext) []cty.Value {
	iter := b.Labels[0]
	if a, ok := b.Body.Attributes["iterator"]; ok {
		iter = hcl.ExprAsKeyword(a.Expr)
	}
	fe, ok := b.Body.Attributes["for_each"]
	if !ok {
		return nil
	}
	coll := value(fe.Expr, ctx)
	if !coll.IsWhollyKnown() || coll.IsNull() || !coll.CanIterateElements() {
		return nil
	}
	var out []cty.Value
	for _, content := range b.Body.Blocks {
		if content.Type != "content" {
			continue
		}
		for it := coll.ElementIterator(); it.Next(); {
			k, v := it.Element()
			child := ctx.NewChild()
			child.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			out = append(out, cty.ObjectVal(evalBody(content.Body, child)))
		}
	}
	return out
}

// computed adds what Google Cloud computes for a resource of type typ, from
// its arguments, to attrs.
func (m *module) computed(typ string, attrs map[string]cty.Value) {
	project := m.Vars["project"].AsString()
	region := m.Vars["region"].AsString()
	set := func(name, v string) {
		if _, ok := attrs[name]; !ok {
			attrs[name] = cty.StringVal(v)
		}
	}
	arg := func(name string) (string, bool) {
		v, ok := attrs[name]
		if !ok || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return "", false
		}
		return v.AsString(), true
	}
	switch typ {
	case "google_service_account":
		if id, ok := arg("account_id"); ok {
			email := id + "@" + project + ".iam.gserviceaccount.com"
			set("email", email)
			set("member", "serviceAccount:"+email)
			set("name", "projects/"+project+"/serviceAccounts/"+email)
			set("id", "projects/"+project+"/serviceAccounts/"+email)
		}
	case "google_project_service_identity":
		if svc, ok := arg("service"); ok {
			agent := strings.TrimSuffix(svc, ".googleapis.com")
			set("email", "service-"+testProjectNumber+"@gcp-sa-"+agent+".iam.gserviceaccount.com")
			set("member", "serviceAccount:"+attrs["email"].AsString())
		}
	case "google_storage_project_service_account":
		email := "service-" + testProjectNumber + "@gs-project-accounts.iam.gserviceaccount.com"
		set("email_address", email)
		set("member", "serviceAccount:"+email)
	case "google_storage_bucket":
		if name, ok := arg("name"); ok {
			set("id", name)
			set("url", "gs://"+name)
		}
	case "google_pubsub_topic":
		if name, ok := arg("name"); ok {
			set("id", "projects/"+project+"/topics/"+name)
		}
	case "google_pubsub_subscription":
		if name, ok := arg("name"); ok {
			set("id", "projects/"+project+"/subscriptions/"+name)
		}
	case "google_secret_manager_secret":
		if id, ok := arg("secret_id"); ok {
			set("id", "projects/"+project+"/secrets/"+id)
			set("name", "projects/"+testProjectNumber+"/secrets/"+id)
		}
	case "google_cloudfunctions2_function":
		name, ok := arg("name")
		if !ok {
			return
		}
		set("url", functionURL(region, project, name))
		// Cloud Run names the function's service after it, in lower case.
		if sc, ok := attrs["service_config"]; ok && sc.LengthInt() > 0 {
			first := sc.Index(cty.NumberIntVal(0)).AsValueMap()
			first["service"] = cty.StringVal("projects/" + project + "/locations/" + region + "/services/" + strings.ToLower(name))
			rest := sc.AsValueSlice()
			rest[0] = cty.ObjectVal(first)
			attrs["service_config"] = cty.TupleVal(rest)
		}
	}
}

// functionURL is a function's deterministic cloudfunctions.net URL.
func functionURL(region, project, name string) string {
	return "https://" + region + "-" + project + ".cloudfunctions.net/" + name
}

// context is the evaluation context of the current round.
func (m *module) context() *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(m.Vars),
		"local": cty.ObjectVal(m.Locals),
	}
	byType := map[string]map[string]cty.Value{}
	data := map[string]map[string]cty.Value{}
	for _, r := range m.Resources {
		dst := byType
		if r.Data {
			dst = data
		}
		if dst[r.Type] == nil {
			dst[r.Type] = map[string]cty.Value{}
		}
		if _, ok := r.Block.Body.Attributes["for_each"]; ok {
			if r.Instances == nil {
				dst[r.Type][r.Name] = cty.DynamicVal
			} else {
				dst[r.Type][r.Name] = cty.ObjectVal(r.Instances)
			}
			continue
		}
		if v, ok := r.Instances[""]; ok {
			dst[r.Type][r.Name] = v
		} else {
			dst[r.Type][r.Name] = cty.DynamicVal
		}
	}
	for typ, rs := range byType {
		vars[typ] = cty.ObjectVal(rs)
	}
	dataTypes := map[string]cty.Value{}
	for typ, rs := range data {
		dataTypes[typ] = cty.ObjectVal(rs)
	}
	vars["data"] = cty.ObjectVal(dataTypes)
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

// invalid evaluates variable name's validation blocks with the values in
// m (a condition may name other variables, as Terraform 1.9 allows) and
// returns the error message of each that fails or cannot be evaluated.
func (m *module) invalid(name string) []string {
	var out []string
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(m.Vars)},
		Functions: functions,
	}
	for _, b := range m.varBlocks[name].Body.Blocks {
		if b.Type != "validation" {
			continue
		}
		msg := "(no error_message)"
		if a, ok := b.Body.Attributes["error_message"]; ok {
			if v := value(a.Expr, nil); v.IsKnown() && v.Type() == cty.String {
				msg = v.AsString()
			}
		}
		c, ok := b.Body.Attributes["condition"]
		if !ok {
			out = append(out, msg+" [no condition]")
			continue
		}
		v, diags := c.Expr.Value(ctx)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool {
			out = append(out, fmt.Sprintf("%s [condition not evaluated: %v]", msg, diags))
			continue
		}
		if v.False() {
			out = append(out, msg)
		}
	}
	return out
}

// functions are the Terraform functions the configuration uses.
var functions = map[string]function.Function{
	"alltrue": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				if _, v := it.Element(); !v.IsKnown() || v.IsNull() || v.False() {
					return cty.False, nil
				}
			}
			return cty.True, nil
		},
	}),
	"can":      tryfunc.CanFunc,
	"concat":   stdlib.ConcatFunc,
	"contains": stdlib.ContainsFunc,
	"distinct": stdlib.DistinctFunc,
	"flatten":  stdlib.FlattenFunc,
	"floor":    stdlib.FloorFunc,
	"format":   stdlib.FormatFunc,
	"join":     stdlib.JoinFunc,
	"keys":     stdlib.KeysFunc,
	"length":   stdlib.LengthFunc,
	"lookup":   stdlib.LookupFunc,
	"lower":    stdlib.LowerFunc,
	"merge":    stdlib.MergeFunc,
	"regex":    stdlib.RegexFunc,
	"replace":  stdlib.ReplaceFunc,
	"split":    stdlib.SplitFunc,
	"startswith": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "prefix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
		},
	}),
	"toset":     stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tolist":    stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":     stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"trimspace": stdlib.TrimSpaceFunc,
	"upper":     stdlib.UpperFunc,
	"values":    stdlib.ValuesFunc,
	// The archive's content is not known here; its name's shape is.
	"filesha256": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.StringVal(strings.Repeat("0", 64)), nil
		},
	}),
}

// Of returns the instances of every resource of type typ, by address.
func (m *module) Of(typ string) map[string]cty.Value {
	out := map[string]cty.Value{}
	for _, r := range m.Resources {
		if r.Type != typ || r.Data {
			continue
		}
		for k, v := range r.Instances {
			out[r.Addr(k)] = v
		}
	}
	return out
}

// str reads a string at path (attribute names; ints index blocks); "" when
// absent or unknown.
func str(v cty.Value, path ...any) string {
	v = at(v, path...)
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

// at walks path through v; cty.NilVal when it leads nowhere.
func at(v cty.Value, path ...any) cty.Value {
	for _, p := range path {
		if v == cty.NilVal || !v.IsKnown() || v.IsNull() {
			return cty.NilVal
		}
		switch p := p.(type) {
		case string:
			if !v.Type().IsObjectType() || !v.Type().HasAttribute(p) {
				return cty.NilVal
			}
			v = v.GetAttr(p)
		case int:
			if !v.CanIterateElements() || v.LengthInt() <= p {
				return cty.NilVal
			}
			v = v.Index(cty.NumberIntVal(int64(p)))
		}
	}
	return v
}

// strs reads a collection of strings (a map's values, a list's elements).
func strs(v cty.Value) []string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

// keysOf reads an object's or a map's keys.
func keysOf(v cty.Value) []string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		if k.Type() == cty.String {
			out = append(out, k.AsString())
		}
	}
	return out
}

// lastSegment turns a resource id (projects/p/topics/t) into its name.
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// references lists every var.X, local.X and data.T.N the module's
// expressions read (outside variable blocks: a variable's own validation
// does not use it), as "var.X", "local.X" and "data.T.N".
func (m *module) references(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	var walk func(body *hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for _, a := range body.Attributes {
			for _, tr := range a.Expr.Variables() {
				name := tr.RootName()
				for _, step := range tr[1:] {
					attr, ok := step.(hcl.TraverseAttr)
					if !ok {
						break
					}
					name += "." + attr.Name
					if !strings.HasPrefix(name, "data.") || strings.Count(name, ".") == 2 {
						break
					}
				}
				out[name] = true
			}
		}
		for _, b := range body.Blocks {
			if b.Type != "variable" {
				walk(b.Body)
			}
		}
	}
	p := hclparse.NewParser()
	for _, name := range sortedKeys(m.Files) {
		f, diags := p.ParseHCL(m.Files[name], name)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		walk(f.Body.(*hclsyntax.Body))
	}
	return out
}
