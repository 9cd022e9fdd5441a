// helm-render renders a Helm chart the way `helm template` does, for machines
// without a helm binary. It implements the part of Helm that Herald's chart
// uses on top of text/template and sprig: .Values (chart defaults merged with
// -f files), .Release, .Chart, .Capabilities, .Template, .Files.Get, and the
// functions include, tpl, required, fail, toYaml, fromYaml, toJson, fromJson
// and lookup (empty, as in `helm template`, unless --cluster names a file of
// objects to play the cluster's part, as on `helm upgrade`).
//
// Usage:
//
//	helm-render [-f values.yaml]... [--name herald] [--namespace herald-system]
//	            [--kube-version 1.20.2] [--api-versions g/v,...] [--include-crds]
//	            [--cluster objects.yaml] [--notes] CHART_DIR
//
// Output: a multi-document YAML stream on stdout, each document preceded by
// "# Source: <chart>/<path>", CRDs first with --include-crds. With --notes it
// prints the rendered NOTES.txt instead. Every rendered document must parse as
// YAML, or the program fails naming the template, as helm does.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// APIVersions answers .Capabilities.APIVersions.Has like Helm's.
type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type KubeVersion struct {
	Version, Major, Minor, GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions APIVersions
}

// Files is .Files: every chart file outside templates/, by path relative to the chart.
type Files map[string][]byte

func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) GetBytes(name string) []byte { return f[name] }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
}

func run() error {
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable; later files win)")
	name := flag.String("name", "herald", "release name")
	namespace := flag.String("namespace", "herald-system", "release namespace")
	kubeVersion := flag.String("kube-version", "1.20.2", "Kubernetes version for .Capabilities")
	apiVersions := flag.String("api-versions", "", "extra API versions for .Capabilities.APIVersions.Has, comma separated")
	includeCRDs := flag.Bool("include-crds", false, "print the chart's crds/ first")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	clusterFile := flag.String("cluster", "", "multi-document YAML of objects that lookup finds (default: none)")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: helm-render [flags] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	chart, err := loadChart(chartDir)
	if err != nil {
		return err
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		override, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		values = coalesce(values, override)
	}
	caps, err := capabilities(*kubeVersion, *apiVersions)
	if err != nil {
		return err
	}
	chartFiles, templates, err := readChartFiles(chartDir)
	if err != nil {
		return err
	}
	chartName, _ := chart["Name"].(string)
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": caps,
		"Files":        chartFiles,
	}
	var cluster []map[string]interface{}
	if *clusterFile != "" {
		if cluster, err = readObjects(*clusterFile); err != nil {
			return err
		}
	}
	rendered, err := render(chartName, templates, top, cluster)
	if err != nil {
		return err
	}

	out := &bytes.Buffer{}
	if *notes {
		out.WriteString(rendered[chartName+"/templates/NOTES.txt"])
		_, err := os.Stdout.Write(out.Bytes())
		return err
	}
	if *includeCRDs {
		crds, err := readCRDs(chartDir)
		if err != nil {
			return err
		}
		for _, c := range crds {
			writeDoc(out, chartName+"/crds/"+c.name, c.body)
		}
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		if path.Base(n) != "NOTES.txt" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var docs []manifest
	for _, n := range names {
		for _, doc := range splitDocs(rendered[n]) {
			var parsed map[string]interface{}
			if err := yaml.Unmarshal([]byte(doc), &parsed); err != nil {
				return fmt.Errorf("%s: rendered YAML does not parse: %v\n%s", n, err, doc)
			}
			if parsed == nil {
				continue
			}
			kind, _ := parsed["kind"].(string)
			docs = append(docs, manifest{n, kind, doc})
		}
	}
	// Install order, as helm prints it: what others refer to comes first.
	sort.SliceStable(docs, func(i, j int) bool { return kindRank(docs[i].kind) < kindRank(docs[j].kind) })
	for _, d := range docs {
		writeDoc(out, d.source, d.body)
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

type manifest struct{ source, kind, body string }

// installOrder is helm's order of kinds on install; other kinds (custom resources) come last.
var installOrder = []string{
	"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
	"RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
	"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService",
}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func writeDoc(out *bytes.Buffer, source, body string) {
	out.WriteString("---\n# Source: " + source + "\n")
	out.WriteString(strings.TrimSpace(body) + "\n")
}

// splitDocs splits a rendered template at document separators, as helm's
// releaseutil.SplitManifests does, dropping documents that are only whitespace.
func splitDocs(s string) []string {
	var docs []string
	var cur []string
	flush := func() {
		d := strings.Join(cur, "\n")
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
		cur = nil
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " \t") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}

func loadChart(dir string) (map[string]interface{}, error) {
	raw, err := readYAMLMap(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	// Templates see Chart.yaml's fields capitalised (.Chart.Name, .Chart.AppVersion).
	chart := map[string]interface{}{}
	for k, v := range raw {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	for _, f := range []string{"Name", "Version"} {
		if s, _ := chart[f].(string); s == "" {
			return nil, fmt.Errorf("Chart.yaml: %s is required", strings.ToLower(f))
		}
	}
	return chart, nil
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// coalesce merges override into base the way helm merges -f files into the
// chart's values: maps merge key by key, anything else replaces, and an
// explicit null deletes the key.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, bok := out[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			out[k] = coalesce(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func capabilities(version, extra string) (Capabilities, error) {
	v := strings.TrimPrefix(version, "v")
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return Capabilities{}, fmt.Errorf("--kube-version %q: want MAJOR.MINOR[.PATCH]", version)
	}
	var minor int
	if _, err := fmt.Sscanf(parts[1], "%d", &minor); err != nil {
		return Capabilities{}, fmt.Errorf("--kube-version %q: %v", version, err)
	}
	// The built-in groups a cluster of that version serves, as far as charts ask.
	apis := APIVersions{
		"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1",
		"apiextensions.k8s.io/v1", "policy/v1beta1", "discovery.k8s.io/v1beta1",
	}
	if minor >= 21 {
		apis = append(apis, "policy/v1", "discovery.k8s.io/v1")
	}
	for _, a := range strings.Split(extra, ",") {
		if a = strings.TrimSpace(a); a != "" {
			apis = append(apis, a)
		}
	}
	return Capabilities{
		KubeVersion: KubeVersion{Version: "v" + v, Major: parts[0], Minor: parts[1], GitVersion: "v" + v},
		APIVersions: apis,
	}, nil
}

type namedFile struct{ name, body string }

func readObjects(file string) ([]map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []map[string]interface{}
	for _, doc := range splitDocs(string(data)) {
		o := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if len(o) > 0 {
			out = append(out, o)
		}
	}
	return out, nil
}

func readChartFiles(dir string) (Files, []namedFile, error) {
	files := Files{}
	var templates []namedFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		// WalkDir does not follow symlinks; a linked directory (crds/) is read by readCRDs.
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			templates = append(templates, namedFile{rel, string(data)})
		} else {
			files[rel] = data
		}
		return nil
	})
	return files, templates, err
}

// readCRDs reads crds/*.yaml, following a symlinked crds directory.
func readCRDs(dir string) ([]namedFile, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	var out []namedFile
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		out = append(out, namedFile{filepath.Base(m), string(data)})
	}
	return out, nil
}

func render(chartName string, templates []namedFile, top map[string]interface{}, cluster []map[string]interface{}) (map[string]string, error) {
	root := template.New("gotpl")
	funcs := funcMap(root, cluster)
	root.Funcs(funcs).Option("missingkey=zero")
	for _, t := range templates {
		if _, err := root.New(chartName + "/" + t.name).Parse(t.body); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for _, t := range templates {
		full := chartName + "/" + t.name
		// Partials (_helpers.tpl) define named templates and render nothing.
		if strings.HasPrefix(path.Base(t.name), "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": full, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, full, data); err != nil {
			return nil, err
		}
		out[full] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

func funcMap(root *template.Template, cluster []map[string]interface{}) template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: a chart must not depend on the renderer's environment.
	delete(f, "env")
	delete(f, "expandenv")
	includeDepth := 0
	f["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("include %q: too deeply nested", name)
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	// `helm template` has no cluster to ask: lookup finds nothing, or what --cluster holds.
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		var items []interface{}
		for _, o := range cluster {
			meta, _ := o["metadata"].(map[string]interface{})
			if o["apiVersion"] != apiVersion || o["kind"] != kind {
				continue
			}
			if namespace != "" && meta["namespace"] != namespace {
				continue
			}
			if name == "" {
				items = append(items, o)
			} else if meta["name"] == name {
				return o, nil
			}
		}
		if name == "" {
			return map[string]interface{}{"items": items}, nil
		}
		return map[string]interface{}{}, nil
	}
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	return f
}
