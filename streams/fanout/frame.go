package fanout

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Frame is one SSE frame, encoded once and shared by every listener it goes
// to.
type Frame struct {
	src  int        // index of its source, or -1 for a frame without id
	pos  Position   // its event's position in its source
	vec  []Position // the vector of its id
	full []byte     // the frame
	bare []byte     // the frame without its id line
	at   time.Time  // when its event happened, for the delivery lag; zero if none
	// key names the state a frame carries (a count, a snapshot): a
	// listener's first frame of a key is left out if a newer one of the
	// key was pushed to it since it registered. Empty for events.
	key string
}

// NewFrame encodes an event without id, which the hub sends but does not
// keep.
func NewFrame(event string, data []byte) *Frame {
	b := appendFrame(nil, "", event, data)
	return &Frame{src: -1, full: b, bare: b}
}

// NewState is NewFrame for a frame that carries the state key names: see
// Listener.PushFirst.
func NewState(key, event string, data []byte) *Frame {
	f := NewFrame(event, data)
	f.key = key
	return f
}

// newEvent encodes an event of source src at pos with the id of vec.
func newEvent(src int, pos Position, vec []Position, event string, data []byte, at time.Time) *Frame {
	id := string(appendID(make([]byte, 0, idLen(len(vec))), vec))
	full := appendFrame(nil, id, event, data)
	return &Frame{src: src, pos: pos, vec: vec, full: full, bare: full[len("id: ")+len(id)+1:], at: at}
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

// appendIDLine appends the line that sets the client's last event id to v.
func appendIDLine(dst []byte, v []Position) []byte {
	dst = append(dst, "id: "...)
	dst = appendID(dst, v)
	return append(dst, '\n')
}

// appendHeartbeat appends a frame that only sets the client's last event id
// to v: without data it fires no event.
func appendHeartbeat(dst []byte, v []Position) []byte {
	return append(appendIDLine(dst, v), '\n')
}

// RetryFrame tells a client to reconnect after a random delay in [lo, hi),
// so that clients sent away together do not come back together.
func RetryFrame(lo, hi time.Duration) []byte {
	d := lo + rand.N(hi-lo)
	return []byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}

// positionSize is what a Position takes in memory: a uint64 and a uint32,
// padded.
const positionSize = 16

// size is what a kept frame costs in memory, about.
func (f *Frame) size() int {
	return len(f.full) + positionSize*len(f.vec) + 160
}
