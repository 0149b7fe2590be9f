// Package ssetest parses server-sent event streams as the HTML standard's
// EventSource does, for tests. Unlike EventSource it also returns the frames
// that fire no event, such as a bare id or retry field, so that tests can see
// heartbeats and reconnection delays.
package ssetest

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"time"
)

// Event is one frame of a stream: the fields up to a blank line.
type Event struct {
	// ID is the stream's last event id after this frame, as EventSource's
	// lastEventId; it carries over from earlier frames.
	ID string
	// HasID tells that this frame set the id.
	HasID bool
	// Event is the event type; "message" when an event fires without one.
	Event string
	// Data is the data, its lines joined with LF.
	Data string
	// HasData tells that the frame had data, so EventSource fires an event.
	HasData bool
	// Retry is the reconnection delay this frame set.
	Retry time.Duration
	// HasRetry tells that this frame set the reconnection delay.
	HasRetry bool
}

// Reader reads the frames of a stream.
type Reader struct {
	r      *bufio.Reader
	id     string
	skipLF bool // the last line ended with CR: a LF next ends no line
	begun  bool // the byte order mark has been checked
}

// NewReader returns a reader of the stream r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReader(r)}
}

// Next returns the next frame that sets a field. At the end of the stream it
// returns io.EOF; an unfinished last frame is dropped, as EventSource does.
func (r *Reader) Next() (Event, error) {
	var e Event
	var data []byte
	fields := false
	for {
		line, err := r.line()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if !fields {
				continue
			}
			e.ID = r.id
			if e.HasData {
				e.Data = string(data[:len(data)-1])
				if e.Event == "" {
					e.Event = "message"
				}
			}
			return e, nil
		}
		if line[0] == ':' {
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(name) {
		case "event":
			e.Event = string(value)
		case "data":
			data = append(append(data, value...), '\n')
			e.HasData = true
		case "id":
			if bytes.IndexByte(value, 0) >= 0 {
				continue
			}
			r.id, e.HasID = string(value), true
		case "retry":
			ms, err := strconv.ParseUint(string(value), 10, 63)
			if err != nil || !isDigits(value) {
				continue
			}
			e.Retry, e.HasRetry = time.Duration(ms)*time.Millisecond, true
		default:
			continue
		}
		fields = true
	}
}

// line reads a line ended by CRLF, LF or CR, without its end.
func (r *Reader) line() ([]byte, error) {
	if !r.begun {
		r.begun = true
		if b, err := r.r.Peek(1); err == nil && b[0] == 0xef {
			if b, err := r.r.Peek(3); err == nil && string(b) == "\ufeff" {
				r.r.Discard(3)
			}
		}
	}
	var line []byte
	for {
		c, err := r.r.ReadByte()
		if err != nil {
			return nil, err
		}
		skip := r.skipLF
		r.skipLF = false
		switch {
		case c == '\n' && skip:
		case c == '\n':
			return line, nil
		case c == '\r':
			r.skipLF = true
			return line, nil
		default:
			line = append(line, c)
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// Parse returns all complete frames of a stream.
func Parse(r io.Reader) ([]Event, error) {
	rd := NewReader(r)
	var events []Event
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}
