package phone

import (
	"regexp"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// isValid answers what phonenumbers.IsValidNumber answers for the number
// with calling code cc and national significant number nsn, from the same
// metadata and patterns. The library rebuilds each pattern string, looks it
// up in a locked cache and runs it twice per call; here each calling code's
// patterns are compiled once, on first use, and run at most once each.
func isValid(cc int, nsn string) bool {
	if cc <= 0 || cc >= len(callingCodes) {
		return false
	}
	return patternsFor(cc).valid(nsn)
}

// callingCodes holds each calling code's compiled patterns once built;
// calling codes have at most three digits.
var (
	callingCodes [1000]atomic.Pointer[callingCodePatterns]
	buildMu      sync.Mutex
)

// patternsFor builds under a lock so each pattern is compiled once, and
// publishes atomically so readers never lock. A panic (a pattern the
// library itself could not compile) stores nothing.
func patternsFor(cc int) *callingCodePatterns {
	if p := callingCodes[cc].Load(); p != nil {
		return p
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p := callingCodes[cc].Load(); p != nil {
		return p
	}
	p := newCallingCodePatterns(cc)
	callingCodes[cc].Store(p)
	return p
}

// callingCodePatterns are the regions sharing one calling code, in the
// library's order (the main region first).
type callingCodePatterns struct {
	regions []regionPatterns
}

type regionPatterns struct {
	name string // ISO 3166-1, or "001" for a non-geographic code
	// leading picks the region by prefix when the metadata has leading
	// digits; without them the region is picked by full validation.
	leading *regexp.Regexp
	// known: the metadata exists and has this calling code, as
	// IsValidNumberForRegion requires.
	known   bool
	general numberDesc
	// types are the descs getNumberTypeHelper tries; a number is valid
	// when it matches general and any of them, so their order is free
	// and the common ones come first.
	types []numberDesc
}

type numberDesc struct {
	lengths []int32 // empty: any length
	pattern *regexp.Regexp
}

// valid follows IsValidNumber: find the number's region
// (GetRegionCodeForNumber), then validate it for that region.
func (c *callingCodePatterns) valid(nsn string) bool {
	switch len(c.regions) {
	case 0:
		return false
	case 1:
		r := &c.regions[0]
		return r.known && r.valid(nsn)
	}
	for i := range c.regions {
		r := &c.regions[i]
		if r.leading != nil {
			if r.leading.MatchString(nsn) {
				return r.known && r.valid(nsn)
			}
		} else if r.valid(nsn) {
			// Chosen by the same check IsValidNumberForRegion repeats.
			return r.known
		}
	}
	return false
}

// region follows getRegionCodeForNumberFromRegionList: the only region,
// else the first whose leading digits or patterns the number fits; ""
// when none does.
func (c *callingCodePatterns) region(nsn string) string {
	if len(c.regions) == 1 {
		return c.regions[0].name
	}
	for i := range c.regions {
		r := &c.regions[i]
		if r.leading != nil {
			if r.leading.MatchString(nsn) {
				return r.name
			}
		} else if r.valid(nsn) {
			return r.name
		}
	}
	return ""
}

// valid is getNumberTypeHelper(nsn, metadata) != UNKNOWN.
func (r *regionPatterns) valid(nsn string) bool {
	if !r.general.matches(nsn) {
		return false
	}
	for i := range r.types {
		if r.types[i].matches(nsn) {
			return true
		}
	}
	return false
}

// matches is isNumberMatchingDesc: a possible length, then the pattern.
func (d *numberDesc) matches(nsn string) bool {
	if d.pattern == nil {
		return false
	}
	if len(d.lengths) > 0 {
		found := false
		for _, l := range d.lengths {
			if int32(len(nsn)) == l {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return d.pattern.MatchString(nsn)
}

func newCallingCodePatterns(cc int) *callingCodePatterns {
	codes := phonenumbers.GetRegionCodesForCountryCode(cc)
	p := &callingCodePatterns{regions: make([]regionPatterns, len(codes))}
	for i, region := range codes {
		var md *phonenumbers.PhoneMetadata
		if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			md = metadata().nonGeo[cc]
		} else {
			md = metadata().byRegion[region]
		}
		p.regions[i] = newRegionPatterns(md, cc, region)
		p.regions[i].name = region
	}
	return p
}

func newRegionPatterns(md *phonenumbers.PhoneMetadata, cc int, region string) regionPatterns {
	if md == nil {
		return regionPatterns{}
	}
	r := regionPatterns{
		known: region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY ||
			int(md.GetCountryCode()) == cc,
		general: newNumberDesc(md.GetGeneralDesc()),
	}
	if ld := md.GetLeadingDigits(); ld != "" {
		r.leading = regexp.MustCompile("^(?:" + ld + ")")
	}
	descs := []*phonenumbers.PhoneNumberDesc{
		md.GetFixedLine(), md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(),
		md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail(),
	}
	// The library tries mobile only when its pattern differs from fixed
	// line's.
	if !md.GetSameMobileAndFixedLinePattern() {
		descs = append([]*phonenumbers.PhoneNumberDesc{md.GetMobile()}, descs...)
	}
	for _, d := range descs {
		if nd := newNumberDesc(d); nd.pattern != nil {
			r.types = append(r.types, nd)
		}
	}
	return r
}

// newNumberDesc compiles the pattern as the library does, anchored at both
// ends. A desc whose only lengths are the metadata's "none" (-1) can never
// match, so it is left uncompiled.
func newNumberDesc(d *phonenumbers.PhoneNumberDesc) numberDesc {
	if d == nil {
		return numberDesc{}
	}
	if len(d.PossibleLength) > 0 {
		some := false
		for _, l := range d.PossibleLength {
			some = some || l > 0
		}
		if !some {
			return numberDesc{}
		}
	}
	return numberDesc{
		lengths: d.PossibleLength,
		pattern: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$"),
	}
}

type metadataIndex struct {
	byRegion map[string]*phonenumbers.PhoneMetadata
	nonGeo   map[int]*phonenumbers.PhoneMetadata
}

// metadata indexes the collection the library loaded at init (the same
// values it validates with), as the library does not export its maps.
var metadata = sync.OnceValue(func() metadataIndex {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic("phone: phonenumbers metadata: " + err.Error())
	}
	idx := metadataIndex{
		byRegion: make(map[string]*phonenumbers.PhoneMetadata),
		nonGeo:   make(map[int]*phonenumbers.PhoneMetadata),
	}
	for _, md := range coll.GetMetadata() {
		if md.GetId() == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			idx.nonGeo[int(md.GetCountryCode())] = md
		} else {
			idx.byRegion[md.GetId()] = md
		}
	}
	return idx
})

// Valid is phonenumbers.IsValidNumber for a parsed number, from the same
// metadata, with each pattern compiled once: for readers that parse
// national numbers themselves.
func Valid(n *phonenumbers.PhoneNumber) bool {
	return n != nil && isValid(int(n.GetCountryCode()), phonenumbers.GetNationalSignificantNumber(n))
}
