// Command benchtable turns `go test -bench` output (on stdin) into the
// project's benchmark table: one row per benchmark and metric, with the
// ratio to its yardstick where it has one.
//
// A yardstick is a sibling sub-benchmark named "yardstick" (for example
// BenchmarkReadCSV/yardstick, bare encoding/csv on the same bytes, beside
// BenchmarkReadCSV/reader): each other row of the same parent gets the
// ratio of its ns/op (or of any metric both report) to the yardstick's.
// A ratio above 1 means slower than the yardstick for time metrics, and
// the fraction reached for rates (metrics ending in "/s"). With -md it
// prints a Markdown table.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
)

// result is one benchmark line: its name without the -P suffix, after its
// package's last path element (two packages may hold benchmarks of one
// name), and its metrics in the order printed.
type result struct {
	name    string
	metrics []metric
}

type metric struct {
	value float64
	unit  string
}

// line matches "BenchmarkX/sub-2   1234   5.6 ns/op   7 B/op ...".
var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

func parse(r io.Reader) ([]result, error) {
	var out []result
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if p, ok := strings.CutPrefix(text, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:] + "."
			continue
		}
		m := line.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		res := result{name: pkg + m[1]}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			res.metrics = append(res.metrics, metric{v, fields[i+1]})
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// yardsticks maps a parent benchmark to its yardstick's metrics by unit.
func yardsticks(rs []result) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, r := range rs {
		parent, sub, ok := cut(r.name)
		if !ok || sub != "yardstick" {
			continue
		}
		out[parent] = map[string]float64{}
		for _, m := range r.metrics {
			out[parent][m.unit] = m.value
		}
	}
	return out
}

// cut splits "BenchmarkX/a/b" into "BenchmarkX/a" and "b".
func cut(name string) (string, string, bool) {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// write prints the table, aligned, or as Markdown (for BENCHMARKS.md).
func write(w io.Writer, rs []result, markdown bool) error {
	ys := yardsticks(rs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	if markdown {
		row = func(cells ...string) { fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |") }
		row("benchmark", "value", "unit", "vs yardstick")
		row("---", "---:", "---", "---:")
	} else {
		row("benchmark", "value", "unit", "vs yardstick")
	}
	for _, r := range rs {
		parent, sub, _ := cut(r.name)
		y := ys[parent]
		for _, m := range r.metrics {
			ratio := ""
			if yv, ok := y[m.unit]; ok && sub != "yardstick" && yv != 0 {
				ratio = strconv.FormatFloat(m.value/yv, 'f', 2, 64) + "×"
			}
			row(r.name, format(m.value), m.unit, ratio)
		}
	}
	return tw.Flush()
}

// format prints a value to the unit from 100 up, else with three
// significant digits.
func format(v float64) string {
	if v >= 100 || v <= -100 || v == float64(int64(v)) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func main() {
	rs, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(rs) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on stdin")
		os.Exit(1)
	}
	markdown := len(os.Args) > 1 && os.Args[1] == "-md"
	if err := write(os.Stdout, rs, markdown); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}
