package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on what one stream may make a subscriber hold.
const (
	readBufferSize = 16 << 10
	maxLineBytes   = 1 << 20
	maxEventBytes  = 1 << 20
)

var (
	errLineTooLong  = errors.New("event stream line longer than 1 MiB")
	errEventTooLong = errors.New("event data longer than 1 MiB")
)

// eventParser parses a Server-Sent Events stream fed to it in pieces as
// they arrive, splitting lines ended by CRLF, LF or CR as the format
// defines them. It ignores id and retry: a subscriber here never
// reconnects.
type eventParser struct {
	partial []byte // the start of a line whose end has not arrived
	skipLF  bool   // the last line ended in CR: a following LF belongs to it
	begun   bool   // the leading byte order mark, if any, is gone
	typ     []byte
	data    []byte
}

// bom is the byte order mark a stream may start with.
const bom = "\xEF\xBB\xBF"

// feed parses b and calls dispatch with the type and data of each event it
// completes; frames without data, such as heartbeats, dispatch nothing.
// Neither slice outlives the call.
func (p *eventParser) feed(b []byte, dispatch func(typ, data []byte)) error {
	if !p.begun {
		// The mark may come in pieces: hold the stream's start until
		// there is enough of it to tell.
		p.partial = append(p.partial, b...)
		head := p.partial
		if len(head) < len(bom) && strings.HasPrefix(bom, string(head)) {
			return nil
		}
		p.begun = true
		b = bytes.Clone(bytes.TrimPrefix(head, []byte(bom)))
		p.partial = p.partial[:0]
	}
	for len(b) > 0 {
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := lineEnd(b)
		if i < 0 {
			if len(p.partial)+len(b) > maxLineBytes {
				return errLineTooLong
			}
			p.partial = append(p.partial, b...)
			return nil
		}
		line := b[:i]
		if len(p.partial) > 0 {
			if len(p.partial)+i > maxLineBytes {
				return errLineTooLong
			}
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		p.skipLF = b[i] == '\r'
		b = b[i+1:]
		if err := p.line(line, dispatch); err != nil {
			return err
		}
		p.partial = p.partial[:0]
	}
	return nil
}

// line handles one line of the stream.
func (p *eventParser) line(line []byte, dispatch func(typ, data []byte)) error {
	if len(line) == 0 {
		if len(p.data) > 0 {
			typ := p.typ
			if len(typ) == 0 {
				typ = []byte("message")
			}
			dispatch(typ, p.data[:len(p.data)-1])
		}
		p.typ, p.data = p.typ[:0], p.data[:0]
		return nil
	}
	field, value, found := bytes.Cut(line, []byte(":"))
	if found && len(field) == 0 {
		return nil // a comment
	}
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	switch string(field) {
	case "event":
		p.typ = append(p.typ[:0], value...)
	case "data":
		if len(p.data)+len(value) >= maxEventBytes {
			return errEventTooLong
		}
		p.data = append(append(p.data, value...), '\n')
	}
	return nil
}

// lineEnd returns the index of the first CR or LF in b, or -1. Two
// searches for one byte each are several times faster than one for either.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// subscriber is one event stream to /stream/posts. Its fields belong to the
// goroutine that reads it: its own until the handshake is over, then, on a
// plain TCP connection, the poller's.
type subscriber struct {
	connected  bool          // the handshake succeeded
	err        error         // why the handshake failed or the stream ended
	endedAt    time.Duration // when the server ended the stream; 0 if it did not
	seen       []uint64      // which posts arrived, one bit each
	latencies  []time.Duration
	duplicates int
	mismatched int // deliveries whose post id differs from other deliveries'
	malformed  int // post events whose data is not a post
	resets     int

	events  eventParser
	arrived time.Duration // when what is being parsed arrived
	sh      *shared
	handle  func(typ, data []byte) // s.event, bound once
}

func newSubscriber(posts int, sh *shared) *subscriber {
	s := &subscriber{seen: make([]uint64, (posts+63)/64), sh: sh}
	s.handle = s.event
	return s
}

// run opens the stream, calls handshook once the handshake is over either
// way, and hands the stream to p to read, or, on a connection p cannot
// read (TLS), reads it until ctx ends or the server closes the stream. The
// handshake fails if connectCtx ends before it is over.
func (s *subscriber) run(ctx, connectCtx context.Context, c *streamClient, p *poller, handshook func()) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(connectCtx, cancel)
	st, err := c.open(ctx)
	if !stop() {
		if err == nil {
			st.body.Close()
		}
		err = errors.New("no handshake within the connect timeout")
	}
	handshook()
	if err != nil {
		s.err = err
		return
	}
	s.connected = true
	s.sh.open.Add(1)
	if err := s.arrive(st.buffered, s.sh.now()); err != nil {
		st.body.Close()
		s.end(err)
		return
	}
	if st.conn != nil && p.add(s, st.conn) {
		return
	}
	defer st.body.Close()
	buf := make([]byte, readBufferSize)
	for {
		n, err := st.body.Read(buf)
		if n > 0 {
			if perr := s.arrive(buf[:n], s.sh.now()); perr != nil {
				err = perr
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				s.end(err)
			}
			return
		}
	}
}

// arrive parses what arrived at now.
func (s *subscriber) arrive(b []byte, now time.Duration) error {
	s.arrived = now
	return s.events.feed(b, s.handle)
}

// end records that the server ended the stream, or it failed, with err.
func (s *subscriber) end(err error) {
	s.endedAt = s.sh.now()
	s.err = err
	s.sh.open.Add(-1)
}

// event handles one event.
func (s *subscriber) event(typ, data []byte) {
	switch string(typ) {
	case "post":
		s.deliver(data, s.arrived, s.sh)
	case "reset":
		s.resets++
	}
}

// deliver records a post event received at now.
func (s *subscriber) deliver(data []byte, now time.Duration, sh *shared) {
	id, title, err := postFields(data)
	if err != nil || id == "" {
		s.malformed++
		return
	}
	i, ok := sh.index(title)
	if !ok {
		return // not a post of this run
	}
	if !sh.sameID(i, id) {
		s.mismatched++
	}
	word, bit := i/64, uint64(1)<<(i%64)
	if s.seen[word]&bit != 0 {
		s.duplicates++
		return
	}
	s.seen[word] |= bit
	sh.delivered.Add(1)
	if start := sh.started[i].Load(); start > 0 {
		s.latencies = append(s.latencies, now-time.Duration(start))
	}
}

// postFields reads the id and title of a post's JSON object. It walks the
// object's members, skipping each value by its syntax, and stops once it
// has both, so that it neither scans the post's long html for meaning nor
// allocates for it: a json.Decoder did both, and was a fifth of the load
// generator's CPU time.
func postFields(data []byte) (id, title string, err error) {
	s := jsonScan{b: data}
	if !s.next('{') {
		return "", "", errNotObject
	}
	for first := true; id == "" || title == ""; first = false {
		if s.next('}') {
			break
		}
		if !first && !s.next(',') {
			return "", "", errNotObject
		}
		s.space()
		key, ok := s.str()
		if !ok || !s.next(':') {
			return "", "", errNotObject
		}
		s.space()
		switch string(key) {
		case "id":
			id, err = s.text()
		case "title":
			title, err = s.text()
		default:
			if !s.skip() {
				err = errNotObject
			}
		}
		if err != nil {
			return "", "", err
		}
	}
	return id, title, nil
}

var errNotObject = errors.New("not a JSON object")

// jsonScan walks JSON text without decoding it.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next skips white space, then c if it comes next, and reports whether it
// did.
func (s *jsonScan) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string and returns what is between its quotes, escapes
// undecoded.
func (s *jsonScan) str() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; ; {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return nil, false
		}
		j += k
		escapes := 0
		for e := j - 1; e >= start && s.b[e] == '\\'; e-- {
			escapes++
		}
		if escapes%2 == 0 {
			s.i = j + 1
			return s.b[start:j], true
		}
		j++
	}
}

// text reads a string value and decodes it.
func (s *jsonScan) text() (string, error) {
	start := s.i
	raw, ok := s.str()
	if !ok {
		return "", errors.New("not a JSON string")
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), nil
	}
	var v string
	err := json.Unmarshal(s.b[start:s.i], &v)
	return v, err
}

// skip skips one value and reports whether it was whole.
func (s *jsonScan) skip() bool {
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing object: a number or literal ended
			}
			if depth--; depth == 0 {
				s.i++
				return true
			}
		case ',':
			if depth == 0 {
				return true
			}
		}
		s.i++
	}
	return depth == 0
}

// received counts the posts in mask that arrived.
func (s *subscriber) received(mask []uint64) int {
	n := 0
	for i, w := range s.seen {
		n += bits.OnesCount64(w & mask[i])
	}
	return n
}
