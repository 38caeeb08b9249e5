package memstore

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParams_round_trip: a webhook record's form comes back as it went in,
// byte for byte (invalid UTF-8 and empty names included), nil as nil and
// empty as empty.
func TestParams_round_trip(t *testing.T) {
	for _, m := range []map[string]string{
		nil, {}, {"": ""}, {"From": "whatsapp:+94771234577", "Body": "bad \xff utf-8", "": "x", "NumMedia": ""},
		{"long": string(make([]byte, 300))},
	} {
		got := decodeParams(encodeParams(m))
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		if (m == nil) != (got == nil) {
			t.Errorf("round trip of %#v = %#v: nil-ness changed", m, got)
		}
	}
}

func FuzzParams(f *testing.F) {
	f.Add("Body", "STOP", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		if diff := cmp.Diff(m, decodeParams(encodeParams(m))); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}
