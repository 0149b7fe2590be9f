package fanout

import (
	"strconv"
	"strings"
)

// Position is where a source's event stands in that source's order: the
// time the source gave it and, for events that share a time, its ordinal
// among them, in the source's order. Positions of one source are compared
// as (Time, Seq).
type Position struct {
	Time uint64
	Seq  uint32
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Time < q.Time || p.Time == q.Time && p.Seq < q.Seq
}

func maxPos(p, q Position) Position {
	if p.Less(q) {
		return q
	}
	return p
}

// An event id is a vector: one position for each source, in the hub's order
// of sources, joined by ".". Each position is 16 digits of an alphabet of
// 64 that sorts as ASCII does ("-", digits, upper case, "_", lower case),
// the 96 bits of its time and its ordinal, so that each part sorts as text
// the way its positions sort, and three sources fit in 50 characters. A
// client that resumes from an id gets every event of each source after
// that source's part. The part of an event's own source is the same on
// every instance; the others say how far the instance that sent it had got
// with the other sources when it sent it.
const (
	partLen  = 16
	digits   = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
	partSep  = '.'
	badDigit = 0xff
	// legacyLen is the length of the single-position ids of earlier
	// versions: 16 hex digits of a time shared by all sources.
	legacyLen = 16
)

// digitValue maps a byte to its digit's value, or badDigit.
var digitValue = func() (v [256]byte) {
	for i := range v {
		v[i] = badDigit
	}
	for i := range len(digits) {
		v[digits[i]] = byte(i)
	}
	return v
}()

// idLen is the length of an id of n sources.
func idLen(n int) int {
	return n*partLen + n - 1
}

// appendID appends the id of the vector v to dst.
func appendID(dst []byte, v []Position) []byte {
	for i, p := range v {
		if i > 0 {
			dst = append(dst, partSep)
		}
		// 96 bits, 6 at a time: the first 10 digits take 60 bits of the
		// time, the next its last 4 and the ordinal's first 2, the last 5
		// the ordinal's other 30.
		for shift := 58; shift >= 4; shift -= 6 {
			dst = append(dst, digits[p.Time>>uint(shift)&63])
		}
		dst = append(dst, digits[(p.Time&15)<<2|uint64(p.Seq>>30)])
		for shift := 24; shift >= 0; shift -= 6 {
			dst = append(dst, digits[p.Seq>>uint(shift)&63])
		}
	}
	return dst
}

// parsePart returns the position of one part.
func parsePart(part string) (Position, bool) {
	var hi, lo uint64 // the first 10 digits, the last 6
	for i := range partLen {
		d := digitValue[part[i]]
		if d == badDigit {
			return Position{}, false
		}
		if i < 10 {
			hi = hi<<6 | uint64(d)
		} else {
			lo = lo<<6 | uint64(d)
		}
	}
	// hi holds 60 bits of the time; lo 4 more and the 32 of the ordinal.
	return Position{Time: hi<<4 | lo>>32, Seq: uint32(lo)}, true
}

// parseID returns the vector of an id of n sources. It also takes an id of
// earlier versions, one time for all sources, as having had every event up
// to and at that time.
func parseID(id string, n int) ([]Position, bool) {
	if n > 1 && len(id) == legacyLen {
		if strings.ToLower(id) != id {
			return nil, false
		}
		t, err := strconv.ParseUint(id, 16, 64)
		if err != nil {
			return nil, false
		}
		v := make([]Position, n)
		for i := range v {
			v[i] = Position{Time: t, Seq: ^uint32(0)}
		}
		return v, true
	}
	if len(id) != idLen(n) {
		return nil, false
	}
	v := make([]Position, n)
	for i := range v {
		if i > 0 && id[i*(partLen+1)-1] != partSep {
			return nil, false
		}
		p, ok := parsePart(id[i*(partLen+1):][:partLen])
		if !ok {
			return nil, false
		}
		v[i] = p
	}
	return v, true
}

// covers reports whether v is at or after w in every source.
func covers(v, w []Position) bool {
	for i := range v {
		if v[i].Less(w[i]) {
			return false
		}
	}
	return true
}

// raise sets each position of v to the later of it and w's.
func raise(v, w []Position) {
	for i := range v {
		v[i] = maxPos(v[i], w[i])
	}
}
