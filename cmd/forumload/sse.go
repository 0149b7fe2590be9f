package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"mime"
	"net/http"
	"time"
	"unicode/utf8"
)

// Bounds on what one stream may make a subscriber hold.
const (
	readBufferSize = 4 << 10
	maxLineBytes   = 1 << 20
	maxEventBytes  = 1 << 20
)

var (
	errLineTooLong  = errors.New("event stream line longer than 1 MiB")
	errEventTooLong = errors.New("event data longer than 1 MiB")
)

// lineReader splits an event stream into lines ended by CRLF, LF or CR, as
// the Server-Sent Events format defines them.
type lineReader struct {
	r       *bufio.Reader
	long    []byte // a line longer than what r buffers, assembled here
	skipLF  bool   // the last line ended in CR: a following LF belongs to it
	started bool   // the leading byte order mark, if any, is gone
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, readBufferSize)}
}

// next returns the next line without its end. The line is only valid until
// the next call.
func (l *lineReader) next() ([]byte, error) {
	if !l.started {
		l.started = true
		if b, err := l.r.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
			l.r.Discard(3)
		}
	}
	l.long = l.long[:0]
	for {
		if l.r.Buffered() == 0 {
			if _, err := l.r.Peek(1); err != nil {
				return nil, err
			}
		}
		chunk, _ := l.r.Peek(l.r.Buffered())
		if l.skipLF {
			l.skipLF = false
			if chunk[0] == '\n' {
				l.r.Discard(1)
				continue
			}
		}
		i := lineEnd(chunk)
		if i < 0 {
			if len(l.long)+len(chunk) > maxLineBytes {
				return nil, errLineTooLong
			}
			l.long = append(l.long, chunk...)
			l.r.Discard(len(chunk))
			continue
		}
		l.skipLF = chunk[i] == '\r'
		l.r.Discard(i + 1)
		if len(l.long) == 0 {
			return chunk[:i], nil
		}
		if len(l.long)+i > maxLineBytes {
			return nil, errLineTooLong
		}
		l.long = append(l.long, chunk[:i]...)
		return l.long, nil
	}
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

// eventReader parses Server-Sent Events. It ignores id and retry: a
// subscriber here never reconnects.
type eventReader struct {
	lines *lineReader
	typ   []byte
	data  []byte
}

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{lines: newLineReader(r)}
}

// next returns the type and data of the next dispatched event; frames
// without data, such as heartbeats, dispatch nothing. Both slices are only
// valid until the next call.
func (e *eventReader) next() (typ, data []byte, err error) {
	e.typ, e.data = e.typ[:0], e.data[:0]
	for {
		line, err := e.lines.next()
		if err != nil {
			return nil, nil, err
		}
		if len(line) == 0 {
			if len(e.data) == 0 {
				e.typ = e.typ[:0]
				continue
			}
			if len(e.typ) == 0 {
				return []byte("message"), e.data[:len(e.data)-1], nil
			}
			return e.typ, e.data[:len(e.data)-1], nil
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found && len(field) == 0 {
			continue // a comment
		}
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			e.typ = append(e.typ[:0], value...)
		case "data":
			if len(e.data)+len(value) >= maxEventBytes {
				return nil, nil, errEventTooLong
			}
			e.data = append(append(e.data, value...), '\n')
		}
	}
}

// subscriber is one event stream to /stream/posts. Its fields belong to its
// goroutine until that ends.
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
}

func newSubscriber(posts int) *subscriber {
	return &subscriber{seen: make([]uint64, (posts+63)/64)}
}

// run opens the stream, calls handshook once the handshake is over either
// way, and reads events until ctx ends or the server closes the stream. The
// handshake fails if connectCtx ends before it is over.
func (s *subscriber) run(ctx, connectCtx context.Context, client *http.Client, url string, sh *shared, handshook func()) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(connectCtx, cancel)
	body, err := openStream(ctx, client, url)
	if !stop() {
		if err == nil {
			body.Close()
		}
		err = errors.New("no handshake within the connect timeout")
	}
	handshook()
	if err != nil {
		s.err = err
		return
	}
	defer body.Close()
	s.connected = true
	sh.open.Add(1)
	err = s.read(body, sh)
	if ctx.Err() == nil {
		s.endedAt = sh.now()
		s.err = err
		sh.open.Add(-1)
	}
}

// openStream sends the stream request and checks that the answer is an event
// stream of unknown length. A stream the server refuses also looks like one
// until it ends; run tells them apart by when they end.
func openStream(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode != http.StatusOK:
		err = fmt.Errorf("status %d", resp.StatusCode)
	case mt != "text/event-stream":
		err = fmt.Errorf("content type %q", mt)
	case resp.ContentLength >= 0:
		err = fmt.Errorf("a body of %d bytes, not a live stream", resp.ContentLength)
	}
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}

// read handles events until the stream fails or ends.
func (s *subscriber) read(body io.Reader, sh *shared) error {
	events := newEventReader(body)
	for {
		typ, data, err := events.next()
		if err != nil {
			return err
		}
		switch string(typ) {
		case "post":
			s.deliver(data, sh.now(), sh)
		case "reset":
			s.resets++
		}
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
