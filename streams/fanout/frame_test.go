package fanout

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"forum/streams/ssetest"
)

func FuzzEncode(f *testing.F) {
	f.Add("0000000100000002", "post", []byte(`{"id":"x","html":"<p>hi</p>"}`))
	f.Add("", "", []byte(""))
	f.Add("1\n", "a\r\nevent: evil", []byte("line1\nline2\r\nline3\rline4"))
	f.Add("x\x00y", "ev\rid: 9", []byte("\n\n\r\r\n"))
	f.Add(" spaced", " spaced", []byte(" data with a leading space"))
	f.Add("id", "message", []byte("data: inner\n\nevent: injected\nid: 7\n\n"))
	f.Add("\r\n", "\x00", []byte("\xef\xbb\xbfbom\x00nul"))
	f.Add(":comment", ":", []byte(":not a comment\n:"))
	f.Add("retry", "retry: 1", []byte("retry: 5\r\n"))
	f.Fuzz(func(t *testing.T, id, event string, data []byte) {
		out := appendFrame(nil, id, event, data)
		events, err := ssetest.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("parse %q: %v", out, err)
		}
		if len(events) != 1 {
			t.Fatalf("%q parses to %d events, want 1: %+v", out, len(events), events)
		}
		e := events[0]
		if !e.HasData || e.HasRetry {
			t.Fatalf("%q: frame %+v, want data and no retry", out, e)
		}
		drop := strings.NewReplacer("\r", "", "\n", "", "\x00", "")
		wantID, wantEvent := drop.Replace(id), drop.Replace(event)
		if wantEvent == "" {
			wantEvent = "message"
		}
		if e.ID != wantID || e.HasID != (wantID != "") || e.Event != wantEvent {
			t.Fatalf("%q: id %q (set %v) event %q, want id %q event %q", out, e.ID, e.HasID, e.Event, wantID, wantEvent)
		}
		lines := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		if e.Data != lines {
			t.Fatalf("%q: data %q, want %q", out, e.Data, lines)
		}
	})
}

func TestIDsSortAsTheirPositionsPartByPart(t *testing.T) {
	parts := []Position{{0, 0}, {0, 1}, {1, 0}, {1 << 32, 0}, {1<<32 | 0xffffffff, 7}, {0x6543210f<<32 | 7, 0xffffffff}, {1<<64 - 1, 0}}
	var prev string
	for _, p := range parts {
		v := []Position{p, {Time: 5}, p}
		id := string(appendID(nil, v))
		if len(id) != idLen(3) {
			t.Fatalf("id %q has %d characters, want %d", id, len(id), idLen(3))
		}
		if got, ok := parseID(id, 3); !ok || !slices.Equal(got, v) {
			t.Fatalf("parseID(%q) = %v, %v, want %v", id, got, ok, v)
		}
		first := id[:partLen]
		if first <= prev {
			t.Fatalf("part %q does not sort after %q", first, prev)
		}
		prev = first
	}
	good := string(appendID(nil, []Position{{0xabc, 2}, {3, 0xd}}))
	for _, bad := range []string{"", "0", good + "0", good[:len(good)-1], strings.Replace(good, ".", "+", 1),
		strings.Replace(good, "-", "+", 1), "0000000G00000002", "000000010000000A", "-000000100000002", good[:partLen], strings.Replace(good, ".", "-", 1)} {
		if _, ok := parseID(bad, 2); ok {
			t.Errorf("parseID(%q) accepted a malformed id", bad)
		}
	}
}

func TestLegacyIDMeansEverySourceUpToItsTime(t *testing.T) {
	v, ok := parseID("0000000a00000003", 3)
	if !ok || len(v) != 3 {
		t.Fatalf("parseID of a legacy id = %v, %v", v, ok)
	}
	for _, p := range v {
		if p.Less(Position{Time: 0x0000000a00000003, Seq: 1 << 20}) || !p.Less(Position{Time: 0x0000000a00000004}) {
			t.Fatalf("legacy id part %+v, want every event of time 0xa00000003 and none after", p)
		}
	}
}

func TestFrameWithoutIDIsTheSameEvent(t *testing.T) {
	v := []Position{{0x0000000a00000003, 1}, {7, 0}}
	f := newEvent(0, v[0], v, "post", []byte(`{"a":1}`), time.Time{})
	id := string(appendID(nil, v))
	if got, want := string(f.full), "id: "+id+"\nevent: post\ndata: {\"a\":1}\n\n"; got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
	if got, want := string(f.bare), "event: post\ndata: {\"a\":1}\n\n"; got != want {
		t.Fatalf("frame without id %q, want %q", got, want)
	}
}
