package fanout

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"forum/streams/ssetest"
)

// event returns an event of source src at time t whose id is v.
func event(src int, t uint64, v ...uint64) *Frame {
	vec := make([]Position, len(v))
	for i, x := range v {
		vec[i] = Position{Time: x}
	}
	vec[src] = Position{Time: t}
	return newEvent(src, Position{Time: t}, vec, "e", []byte(fmt.Sprint(src, ":", t)), time.Time{})
}

func TestListenerFallingBehindIsCutOff(t *testing.T) {
	l := newListener([]string{"a"}, nil, 2, 1)
	l.replay([]entry{{[]string{"a"}, event(0, 1, 0), time.Time{}}, {[]string{"b"}, event(0, 2, 0), time.Time{}}, {[]string{"a"}, event(0, 3, 0), time.Time{}}})
	l.push(event(0, 4, 0))
	l.push(event(0, 5, 0))
	q, evicted := l.take(nil)
	if evicted || len(q) != 4 {
		t.Fatalf("took %d frames (cut off %v): replay may exceed the queue size", len(q), evicted)
	}
	for ts := range uint64(3) {
		l.push(event(0, 6+ts, 0))
	}
	if q, evicted := l.take(nil); !evicted || len(q) != 0 {
		t.Fatalf("took %d frames (cut off %v), want none and cut off", len(q), evicted)
	}
}

func TestStateFrameAtOpenGivesWayToANewerOne(t *testing.T) {
	l := newListener([]string{"a"}, nil, 8, 1)
	l.push(NewState("count a", "count", []byte("2")))
	l.PushFirst(NewState("count a", "count", []byte("1")))
	l.PushFirst(NewState("count b", "count", []byte("5")))
	q, _ := l.take(nil)
	var got []string
	for _, f := range q {
		got = append(got, string(f.full))
	}
	if len(q) != 2 || !strings.Contains(got[0], "data: 2") || !strings.Contains(got[1], "data: 5") {
		t.Fatalf("queued %q, want the newer count of a and the count of b", got)
	}
}

// Two sources: the client resumed from (5, 9) at an instance that is behind
// in source 1. Frames of source 1 at or before 9 are left out; a frame of
// source 0 whose id says less of source 1 goes with the combined id, so the
// client's resume point never moves back in either source.
func TestBatchNeverMovesTheResumePointBackInAnySource(t *testing.T) {
	l := newListener([]string{"a"}, nil, 10, 2)
	copy(l.floor, []Position{{Time: 5}, {Time: 9}})
	copy(l.sent, l.floor)
	had := event(1, 8, 4, 8)
	behind := event(0, 6, 6, 7)
	ahead := event(1, 10, 6, 10)
	next := event(0, 7, 7, 10)
	out, written := l.appendBatch(nil, []*Frame{had, behind, ahead, next})
	if len(written) != 3 || written[0] != behind || written[1] != ahead || written[2] != next {
		t.Fatalf("wrote %d frames, want all but the one the client had", len(written))
	}
	events, err := ssetest.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	id := func(a, b uint64) string { return string(appendID(nil, []Position{{Time: a}, {Time: b}})) }
	want := []string{"0:6@" + id(6, 9), "1:10@" + id(6, 10), "0:7@" + id(7, 10)}
	var got []string
	for _, e := range events {
		got = append(got, e.Data+"@"+e.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestHistoryTrimsByAgeCountAndBytesAndMovesItsStart(t *testing.T) {
	h := newHistory(make([]Position, 2))
	now := time.Now()
	for i := range uint64(10) {
		src := int(i % 2)
		h.add(entry{topics: []string{"a"}, f: event(src, i+1, i, i), at: now.Add(time.Duration(i) * time.Second)})
	}
	if n := h.trim(now.Add(2*time.Second), 100, 1<<30); n != 2 {
		t.Fatalf("trimmed %d by age, want 2", n)
	}
	if h.start[0] != (Position{Time: 1}) || h.start[1] != (Position{Time: 2}) {
		t.Fatalf("start %v after trimming events 1 and 2", h.start)
	}
	if n := h.trim(time.Time{}, 5, 1<<30); n != 3 || h.len() != 5 {
		t.Fatalf("trimmed %d to %d by count, want 3 to 5", n, h.len())
	}
	per := h.items[h.head].f.size()
	if n := h.trim(time.Time{}, 100, 2*per+10); n != 3 || h.len() != 2 || h.bytes > 2*per+10 {
		t.Fatalf("trimmed %d to %d events of %d bytes, want 3 to 2 within %d", n, h.len(), h.bytes, 2*per+10)
	}
	if h.start[0] != (Position{Time: 7}) || h.start[1] != (Position{Time: 8}) {
		t.Fatalf("start %v after trimming up to event 8", h.start)
	}
}

func TestHistoryAfterHoldsEveryEventAfterAVector(t *testing.T) {
	h := newHistory(make([]Position, 3))
	// Source 2 is quiet; sources 0 and 1 interleave unevenly.
	for _, e := range []struct {
		src int
		t   uint64
	}{{0, 1}, {1, 1}, {1, 2}, {0, 2}, {1, 3}, {1, 4}, {0, 3}, {1, 5}} {
		h.add(entry{topics: []string{"a"}, f: event(e.src, e.t, 0, 0, 0)})
	}
	for _, v := range [][]Position{{{Time: 3}, {Time: 1}, {}}, {{Time: 1}, {Time: 5}, {}}, {{}, {}, {}}, {{Time: 3}, {Time: 5}, {}}} {
		got := map[string]bool{}
		for _, e := range h.after(v) {
			got[fmt.Sprint(e.f.src, e.f.pos.Time)] = true
		}
		for _, e := range h.items {
			if v[e.f.src].Less(e.f.pos) && !got[fmt.Sprint(e.f.src, e.f.pos.Time)] {
				t.Fatalf("after(%v) misses event %d:%d", v, e.f.src, e.f.pos.Time)
			}
		}
	}
}
