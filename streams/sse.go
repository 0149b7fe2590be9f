package streams

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// idLen is the length of an event id: 16 lowercase hex digits.
const idLen = 16

// frame is one SSE frame, encoded once and shared by every listener it goes
// to.
type frame struct {
	ts     uint64    // position of its change, or 0 for a frame without id
	full   []byte    // the frame
	bare   []byte    // the frame without its id line
	unread bool      // an unread-count frame
	at     time.Time // when its change happened, for the delivery lag; zero if none
}

// position packs a cluster time into a number whose order is time order.
func position(ts primitive.Timestamp) uint64 {
	return uint64(ts.T)<<32 | uint64(ts.I)
}

// timestamp unpacks a position.
func timestamp(pos uint64) primitive.Timestamp {
	return primitive.Timestamp{T: uint32(pos >> 32), I: uint32(pos)}
}

// appendID appends the event id of a position: %08x%08x of its T and I, so
// that ids sort as their changes happened.
func appendID(dst []byte, pos uint64) []byte {
	for i := idLen - 1; i >= 0; i-- {
		dst = append(dst, "0123456789abcdef"[pos>>(4*uint(i))&0xf])
	}
	return dst
}

// parseID returns the position of an event id.
func parseID(id string) (uint64, bool) {
	if len(id) != idLen || strings.ToLower(id) != id {
		return 0, false
	}
	pos, err := strconv.ParseUint(id, 16, 64)
	return pos, err == nil
}

// newFrame encodes an event with the id of pos.
func newFrame(pos uint64, event string, data []byte) *frame {
	full := appendFrame(nil, string(appendID(nil, pos)), event, data)
	return &frame{ts: pos, full: full, bare: full[len("id: ")+idLen+1:]}
}

// newPlainFrame encodes an event without id.
func newPlainFrame(event string, data []byte) *frame {
	b := appendFrame(nil, "", event, data)
	return &frame{full: b, bare: b}
}

// appendFrame appends one SSE event to dst: an id line unless id is empty,
// an event line unless event is empty, and a data line for each line of
// data, which may end lines with CRLF, LF or CR. CR, LF and NUL are dropped
// from id and event so that neither can end its line and start a field.
func appendFrame(dst []byte, id, event string, data []byte) []byte {
	if id = clean(id); id != "" {
		dst = appendField(dst, "id", id)
	}
	if event = clean(event); event != "" {
		dst = appendField(dst, "event", event)
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = appendField(dst, "data", data[:i])
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = appendField(dst, "data", data)
	return append(dst, '\n')
}

// appendField appends the line "name: value". The space keeps a value that
// starts with a space intact, as a parser drops one space after the colon.
func appendField[T string | []byte](dst []byte, name string, value T) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, '\n')
}

// clean drops CR, LF and NUL from s.
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := range len(s) {
		if c := s[i]; c != '\r' && c != '\n' && c != 0 {
			b = append(b, c)
		}
	}
	return string(b)
}

// appendHeartbeat appends a frame that only sets the client's last event id
// to pos: without data it fires no event.
func appendHeartbeat(dst []byte, pos uint64) []byte {
	dst = append(dst, "id: "...)
	dst = appendID(dst, pos)
	return append(dst, '\n', '\n')
}

// retryFrame tells a client to reconnect after a random delay in [lo, hi),
// so that clients sent away together do not come back together.
func retryFrame(lo, hi time.Duration) []byte {
	d := lo + rand.N(hi-lo)
	return []byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}
