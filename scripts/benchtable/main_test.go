package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTable(t *testing.T) {
	t.Parallel()
	in := `goos: linux
pkg: github.com/eventstreamengine/ese/shared/userimport
BenchmarkReadCSV/reader-2     	       3	 400000000 ns/op	  250000 rows/s	 1024 B/op
BenchmarkReadCSV/yardstick-2  	      10	 100000000 ns/op	 1000000 rows/s	  512 B/op
pkg: github.com/eventstreamengine/ese/shared/phone
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
	if err := write(&b, rs, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"benchmark                  value      unit       vs yardstick",
		"userimport.BenchmarkReadCSV/reader    400000000  ns/op      4.00×",
		"userimport.BenchmarkReadCSV/reader    250000     rows/s     0.25×",
		"userimport.BenchmarkReadCSV/reader    1024       B/op       2.00×",
		"userimport.BenchmarkReadCSV/yardstick 100000000  ns/op      ",
		"userimport.BenchmarkReadCSV/yardstick 1000000    rows/s     ",
		"userimport.BenchmarkReadCSV/yardstick 512        B/op       ",
		"phone.BenchmarkNormalize         1234       ns/op      ",
		"phone.BenchmarkNormalize         3          allocs/op  ",
		"phone.BenchmarkSmall             2.35       ns/op      ",
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

func TestTable_markdown(t *testing.T) {
	t.Parallel()
	rs, err := parse(strings.NewReader("BenchmarkA/x-2 1 400 ns/op\nBenchmarkA/yardstick-2 1 100 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := write(&b, rs, true); err != nil {
		t.Fatal(err)
	}
	want := "| benchmark | value | unit | vs yardstick |\n| --- | ---: | --- | ---: |\n| BenchmarkA/x | 400 | ns/op | 4.00× |\n| BenchmarkA/yardstick | 100 | ns/op |  |\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("markdown (-want, +got):\n%s", diff)
	}
}
