package audience_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eventstreamengine/ese/emulators/emulatortest"
	"github.com/eventstreamengine/ese/shared/audience"
	"github.com/eventstreamengine/ese/shared/consent"
	"github.com/eventstreamengine/ese/shared/store"
	"github.com/eventstreamengine/ese/shared/store/gcpfirestore"
	"github.com/eventstreamengine/ese/shared/store/memstore"
	"github.com/eventstreamengine/ese/shared/user"
)

// On Firestore as in memory, a segment read in slices side by side, with
// the store filtering what the plan pushes, finds exactly the people the
// definition matches.
func TestSlicesReadSideBySide(t *testing.T) {
	t.Parallel()
	emulatortest.Firestore(t)
	fs, err := gcpfirestore.Open(context.Background(), emulatortest.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	for name, st := range map[string]store.Store{"firestore": fs, "memstore": memstore.New()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var us []user.User
			for i := range 240 {
				p := []string{"+9477%07d", "+1415555%04d", "+4479111%05d"}[i%3]
				u := user.User{Phone: fmt.Sprintf(p, i*37), Consent: consent.OptIn, CreatedAt: now, Attributes: map[string]any{"city": []string{"Colombo", "Kandy"}[i%2], "age": i % 70}}
				if i%4 == 0 {
					u.Consent = consent.Stop
				}
				if i%5 == 0 {
					inbound := now.Add(-time.Duration(i) * time.Hour)
					u.LastInboundAt = &inbound
				}
				if err := st.CreateUser(ctx, u, consent.SourceAPI, ""); err != nil {
					t.Fatal(err)
				}
				stored, _ := st.GetUser(ctx, u.Phone)
				us = append(us, stored)
			}
			for _, def := range []string{
				`{"conditions":[{"attribute":"consent_state","operator":"equals","value":"OPT_IN"},{"attribute":"city","operator":"equals","value":"Kandy"},{"attribute":"age","operator":"between","value":[10,50]}]}`,
				`{"conditions":[{"attribute":"consent_state","operator":"not_equals","value":"STOP"},{"attribute":"last_inbound_at","operator":"within_last","value":"5d"}]}`,
				`{"conditions":[{"attribute":"phone_number","operator":"starts_with","value":"+9477"},{"not":{"attribute":"city","operator":"equals","value":"Kandy"}}]}`,
				`{"conditions":[{"attribute":"phone_country","operator":"equals","value":"GB"},{"attribute":"age","operator":"gt","value":60}],"logic":"OR"}`,
			} {
				d := parse(t, def)
				var want []string
				for _, u := range us {
					if d.Match(u, now) {
						want = append(want, u.Phone)
					}
				}
				rs, err := audience.Slices(ctx, st, d, 4, 10, now)
				if err != nil {
					t.Fatal(err)
				}
				var (
					mu  sync.Mutex
					got []string
					wg  sync.WaitGroup
				)
				for _, r := range rs {
					wg.Go(func() {
						after := ""
						for {
							p, err := audience.ReadPage(ctx, st, d, r, after, 7, now)
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							for _, u := range p.Matched {
								got = append(got, u.Phone)
							}
							mu.Unlock()
							if p.Next == "" {
								return
							}
							after = p.Next
						}
					})
				}
				wg.Wait()
				slices.Sort(want)
				slices.Sort(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s in %d slices %v (-want, +got):\n%s", def, len(rs), rs, diff)
				}
				if len(want) == 0 {
					t.Errorf("%s matches nobody: the test proves nothing", def)
				}
			}
		})
	}
}
