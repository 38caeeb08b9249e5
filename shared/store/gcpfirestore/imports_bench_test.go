package gcpfirestore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/user"
	"github.com/eventstreamengine/ese/shared/userimport"
)

// openBench returns a store over a project of b's own on the emulator.
func openBench(b *testing.B) *Store {
	b.Helper()
	emulatortest.Firestore(b)
	s, err := Open(context.Background(), emulatortest.ProjectID(b))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// markApplied writes n batch markers for jobID directly, as n applied
// batches of 200 new users would leave them.
func markApplied(b *testing.B, s *Store, jobID string, n int) {
	b.Helper()
	bw := s.c.BulkWriter(b.Context())
	jobs := make([]*firestore.BulkWriterJob, 0, n)
	for k := range n {
		j, err := bw.Create(s.jobRef(jobID).Collection(colBatches).Doc(fmt.Sprint(k)),
			batchDoc{Batch: k, Created: store.MaxImportBatch, AppliedAt: time.Now()})
		if err != nil {
			b.Fatalf("BulkWriter.Create: %v", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			b.Fatalf("marker: %v", err)
		}
	}
}

// GetImportJob's reads do not grow with the job's batches: one
// aggregation over the markers, whose work the emulator (and Firestore,
// at one billed read per 1,000 markers) does server-side. read_every_marker
// is the way it was done before (the job, then every marker), for
// comparison.
func BenchmarkGetImportJob(b *testing.B) {
	for _, n := range []int{10, 1000} {
		s := openBench(b)
		jobID := fmt.Sprintf("job-%d", n)
		if err := s.CreateImportJob(b.Context(), userimport.Job{ID: jobID, State: userimport.Queued, Format: "csv", Batches: n}); err != nil {
			b.Fatalf("CreateImportJob: %v", err)
		}
		markApplied(b, s, jobID, n)
		b.Run(fmt.Sprintf("aggregation/markers_%d", n), func(b *testing.B) {
			for b.Loop() {
				j, err := s.GetImportJob(b.Context(), jobID)
				if err != nil {
					b.Fatalf("GetImportJob: %v", err)
				}
				if j.Applied != n || j.Created != n*store.MaxImportBatch || j.State != userimport.Completed {
					b.Fatalf("GetImportJob = %+v, want %d batches applied", j, n)
				}
			}
		})
		b.Run(fmt.Sprintf("read_every_marker/markers_%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.PeekImportJob(b.Context(), jobID); err != nil {
					b.Fatal(err)
				}
				snaps, err := s.jobRef(jobID).Collection(colBatches).
					Select("batch", "created", "updated", "unchanged", "consent_kept").Documents(b.Context()).GetAll()
				if err != nil {
					b.Fatal(err)
				}
				var t userimport.Totals
				for _, snap := range snaps {
					var d batchDoc
					if err := snap.DataTo(&d); err != nil {
						b.Fatal(err)
					}
					t.Add(d.result())
				}
				if t.Batches != n {
					b.Fatalf("%d markers, want %d", t.Batches, n)
				}
			}
		})
	}
}

// newUserRows returns batch k's rows: store.MaxImportBatch people no
// batch before had.
func newUserRows(k int) []userimport.Row {
	rows := make([]userimport.Row, store.MaxImportBatch)
	for i := range rows {
		rows[i] = userimport.Row{
			Line: i + 2, Phone: fmt.Sprintf("+9477%07d", k*store.MaxImportBatch+i),
			Attributes: map[string]any{"city": "Colombo", "first_name": "Nimal"},
		}
	}
	return rows
}

// BenchmarkImportExistingUsers measures batches that update people an
// earlier import created (a new attribute each), one caller: the path
// that must read every user.
func BenchmarkImportExistingUsers(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	for _, id := range []string{"first-job", "second-job"} {
		if err := s.CreateImportJob(ctx, userimport.Job{ID: id, State: userimport.Queued, Format: "csv", Batches: b.N}); err != nil {
			b.Fatalf("CreateImportJob: %v", err)
		}
	}
	batches := make([][]userimport.Row, b.N)
	for k := range batches {
		batches[k] = newUserRows(k)
		if _, err := s.ApplyImportBatch(ctx, "first-job", k, batches[k], time.Now()); err != nil {
			b.Fatalf("ApplyImportBatch(first-job, %d): %v", k, err)
		}
		for _, r := range batches[k] {
			r.Attributes["plan"] = "gold"
		}
	}
	b.ResetTimer()
	start := time.Now()
	for k := range b.N {
		res, err := s.ApplyImportBatch(ctx, "second-job", k, batches[k], time.Now())
		if err != nil {
			b.Fatalf("ApplyImportBatch(%d): %v", k, err)
		}
		if res.Updated != store.MaxImportBatch {
			b.Fatalf("ApplyImportBatch(%d) = %+v, want every row updated", k, res)
		}
	}
	b.ReportMetric(float64(b.N*store.MaxImportBatch)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkImportNewUsers measures the rows a second ApplyImportBatch
// reaches on the emulator for batches of new people, with 1, 2 and 4
// callers at once (as concurrent batch deliveries would call it). The
// yardstick is a bare BulkWriter creating the same user documents, with
// nothing read and nothing atomic; with_history adds a consent history
// entry per user, the same writes as a batch.
func BenchmarkImportNewUsers(b *testing.B) {
	for _, callers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("callers_%d", callers), func(b *testing.B) {
			s := openBench(b)
			const jobID = "bench-job"
			if err := s.CreateImportJob(b.Context(), userimport.Job{ID: jobID, State: userimport.Queued, Format: "csv", Batches: b.N}); err != nil {
				b.Fatalf("CreateImportJob: %v", err)
			}
			batches := make([][]userimport.Row, b.N)
			for k := range batches {
				batches[k] = newUserRows(k)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range callers {
				wg.Go(func() {
					for k := int(next.Add(1)) - 1; k < b.N; k = int(next.Add(1)) - 1 {
						res, err := s.ApplyImportBatch(b.Context(), jobID, k, batches[k], time.Now())
						if err != nil {
							b.Errorf("ApplyImportBatch(%d): %v", k, err)
							return
						}
						if res.Created != store.MaxImportBatch {
							b.Errorf("ApplyImportBatch(%d) = %+v, want every row created", k, res)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*store.MaxImportBatch)/time.Since(start).Seconds(), "rows/s")
		})
	}
	bulk := func(history bool) func(b *testing.B) {
		return func(b *testing.B) {
			s := openBench(b)
			at := time.Now()
			b.ResetTimer()
			start := time.Now()
			bw := s.c.BulkWriter(b.Context())
			var jobs []*firestore.BulkWriterJob
			for k := range b.N {
				for _, r := range newUserRows(k) {
					u := user.User{Phone: r.Phone, Consent: consent.OptIn, Attributes: r.Attributes, CreatedAt: at, UpdatedAt: at}
					j, err := bw.Create(s.userRef(r.Phone), toUserDoc(u))
					if err != nil {
						b.Fatal(err)
					}
					jobs = append(jobs, j)
					if history {
						c := consent.Change{Phone: r.Phone, To: consent.OptIn, Source: consent.SourceImport, Ref: "bench-job", At: at}
						if j, err = bw.Create(s.historyCol(r.Phone).NewDoc(), toChangeDoc(c)); err != nil {
							b.Fatal(err)
						}
						jobs = append(jobs, j)
					}
				}
			}
			bw.End()
			for _, j := range jobs {
				if _, err := j.Results(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*store.MaxImportBatch)/time.Since(start).Seconds(), "rows/s")
		}
	}
	b.Run("yardstick", bulk(false))
	b.Run("bulkwriter_with_history", bulk(true))
	// A batch's writes in one transaction that reads nothing: the most
	// ApplyImportBatch could gain by reading less, one caller.
	b.Run("writes_only_transaction", func(b *testing.B) {
		s := openBench(b)
		at := time.Now()
		b.ResetTimer()
		start := time.Now()
		for k := range b.N {
			rows := newUserRows(k)
			err := s.c.RunTransaction(b.Context(), func(ctx context.Context, tx *firestore.Transaction) error {
				for _, r := range rows {
					u := user.User{Phone: r.Phone, Consent: consent.OptIn, Attributes: r.Attributes, CreatedAt: at, UpdatedAt: at}
					if err := tx.Create(s.userRef(r.Phone), toUserDoc(u)); err != nil {
						return err
					}
					c := consent.Change{Phone: r.Phone, To: consent.OptIn, Source: consent.SourceImport, Ref: "bench-job", At: at}
					if err := tx.Create(s.historyCol(r.Phone).NewDoc(), toChangeDoc(c)); err != nil {
						return err
					}
				}
				return tx.Create(s.jobRef("bench-job").Collection(colBatches).Doc(fmt.Sprint(k)), batchDoc{Batch: k, Created: len(rows), AppliedAt: at})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*store.MaxImportBatch)/time.Since(start).Seconds(), "rows/s")
	})
}
