package userimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// millionRows is a generated 1,000,000-row contact file as exports come:
// a tenth of the numbers written with spaces and a tenth as whatsapp:,
// one in a hundred repeating an earlier row, one in two hundred invalid.
func millionRows(tb testing.TB) []byte { return contactRows(tb, false) }

// contactRows is millionRows, with a third of the numbers in Sri Lanka's
// national form (077 123 4567) when national is set.
func contactRows(tb testing.TB, national bool) []byte {
	tb.Helper()
	const rows = 1_000_000
	var b bytes.Buffer
	b.Grow(rows * 64)
	b.WriteString("phone_number,consent_state,name,city,age,postcode\n")
	for i := 1; i <= rows; i++ {
		n := i
		if i%100 == 0 {
			n = i - 50 // a duplicate of an earlier row
		}
		switch {
		case i%200 == 7:
			fmt.Fprintf(&b, "+9400%07d,OPT_IN,Person %d,Colombo,%d,%05d\n", n, i, 18+i%60, i%100000) // invalid
		case i%10 == 3:
			fmt.Fprintf(&b, "+94 77 %03d %04d,OPT_IN,Person %d,Galle,%d,%05d\n", n/10000, n%10000, i, 18+i%60, i%100000)
		case i%10 == 5:
			fmt.Fprintf(&b, "whatsapp:+9477%07d,,Person %d,Kandy,%d,%05d\n", n, i, 18+i%60, i%100000)
		case national && i%3 == 1:
			fmt.Fprintf(&b, "077%07d,OPT_IN,Person %d,Matara,%d,%05d\n", n, i, 18+i%60, i%100000)
		default:
			fmt.Fprintf(&b, "+9477%07d,OPT_IN,Person %d,Colombo,%d,%05d\n", n, i, 18+i%60, i%100000)
		}
	}
	return b.Bytes()
}

// BenchmarkReadCSV1M reads a million dirty rows on one core: parsed,
// numbers normalised, values typed and checked, duplicates counted. Its
// yardstick is bare encoding/csv reading the same bytes in the same run.
func BenchmarkReadCSV1M(b *testing.B) {
	data := millionRows(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.Run("reader", func(b *testing.B) { benchReader(b, data) })
	// A third of the numbers national, read with default_region=LK.
	national := contactRows(b, true)
	b.Run("reader_national_LK", func(b *testing.B) { benchReader(b, national, WithDefaultRegion("LK")) })
	b.Run("yardstick", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var rows int
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.ReuseRecord = true
			rows = 0
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				rows++
			}
		}
		b.ReportMetric(float64((rows-1)*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// benchReader reads data whole with opts on every iteration, reporting
// rows a second and the live heap the reading added at its peak.
func benchReader(b *testing.B, data []byte, opts ...Option) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var rows int
	var peak uint64
	for b.Loop() {
		var base runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&base)
		rd := NewReader(bytes.NewReader(data), CSV, opts...)
		rows = 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				b.Fatal(err)
			}
			if rows++; rows%250_000 == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc-min(m.HeapAlloc, base.HeapAlloc))
			}
		}
		if st := rd.Stats(); st.Duplicates == 0 || st.Rejected == 0 || st.Rejected > rows/100 {
			b.Fatalf("stats %+v: the file has duplicates and about 0.5%% bad rows", st)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "MB-heap")
}
