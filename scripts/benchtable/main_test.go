package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTable(t *testing.T) {
	t.Parallel()
	in := `goos: linux
BenchmarkReadCSV/reader-2     	       3	 400000000 ns/op	  250000 rows/s	 1024 B/op
BenchmarkReadCSV/yardstick-2  	      10	 100000000 ns/op	 1000000 rows/s	  512 B/op
BenchmarkNormalize-2          	 1000000	      1234.4 ns/op	       3 allocs/op
BenchmarkSmall-2              	 1000000	         2.345 ns/op
PASS
ok  	x	1.2s
`
	rs, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := write(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"benchmark                  value      unit       vs yardstick",
		"BenchmarkReadCSV/reader    400000000  ns/op      4.00×",
		"BenchmarkReadCSV/reader    250000     rows/s     0.25×",
		"BenchmarkReadCSV/reader    1024       B/op       2.00×",
		"BenchmarkReadCSV/yardstick 100000000  ns/op      ",
		"BenchmarkReadCSV/yardstick 1000000    rows/s     ",
		"BenchmarkReadCSV/yardstick 512        B/op       ",
		"BenchmarkNormalize         1234       ns/op      ",
		"BenchmarkNormalize         3          allocs/op  ",
		"BenchmarkSmall             2.35       ns/op      ",
	}
	got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i := range got {
		got[i] = strings.Join(strings.Fields(got[i]), " ")
	}
	for i := range want {
		want[i] = strings.Join(strings.Fields(want[i]), " ")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table (-want, +got):\n%s", diff)
	}
}
