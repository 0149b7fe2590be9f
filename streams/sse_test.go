package streams

import (
	"bytes"
	"strings"
	"testing"

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

func TestIDsSortAsTheirTimes(t *testing.T) {
	positions := []uint64{0, 1, 1 << 32, 1<<32 | 0xffffffff, 0x6543210f<<32 | 7, 1<<64 - 1}
	prev := ""
	for _, pos := range positions {
		id := string(appendID(nil, pos))
		if len(id) != idLen {
			t.Fatalf("id %q has %d characters, want %d", id, len(id), idLen)
		}
		if got, ok := parseID(id); !ok || got != pos {
			t.Fatalf("parseID(%q) = %d, %v, want %d", id, got, ok, pos)
		}
		if id <= prev {
			t.Fatalf("id %q does not sort after %q", id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "0", "00000001000000020", "0000000G00000002", "000000010000000A", "-000000100000002", "+000000100000002"} {
		if _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted a malformed id", bad)
		}
	}
}

func TestFrameWithoutIDIsTheSameEvent(t *testing.T) {
	f := newFrame(0x0000000a00000003, "post", []byte(`{"a":1}`))
	if got, want := string(f.full), "id: 0000000a00000003\nevent: post\ndata: {\"a\":1}\n\n"; got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
	if got, want := string(f.bare), "event: post\ndata: {\"a\":1}\n\n"; got != want {
		t.Fatalf("frame without id %q, want %q", got, want)
	}
}

func TestBatchNeverMovesTheResumePointBack(t *testing.T) {
	l := newListener([]string{PostsTopic}, []string{postsKind}, 10)
	l.floor, l.sent = 5, 5
	a, b, c := newFrame(7, "post", []byte("7")), newFrame(6, "post", []byte("6")), newFrame(9, "post", []byte("9"))
	old := newFrame(5, "post", []byte("5"))
	out, written := l.appendBatch(nil, []*frame{a, old, c})
	if len(written) != 2 || written[0] != a || written[1] != c {
		t.Fatalf("first batch wrote %d frames, want 7 and 9", len(written))
	}
	out, written = l.appendBatch(out, []*frame{b})
	if len(written) != 1 || written[0] != b {
		t.Fatalf("second batch wrote %d frames, want 6", len(written))
	}
	events, err := ssetest.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Data+"@"+e.ID)
	}
	want := []string{"7@0000000000000007", "9@0000000000000009", "6@0000000000000009"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
}
