package ssetest

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFollowsTheStandard(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Event
	}{
		{"data lines join with LF", "data: YHOO\ndata: +2\ndata: 10\n\n",
			[]Event{{Event: "message", Data: "YHOO\n+2\n10", HasData: true}}},
		{"comments and unknown fields are ignored", ": test stream\nfoo: bar\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			[]Event{
				{ID: "1", HasID: true, Event: "message", Data: "first event", HasData: true},
				{ID: "", HasID: true, Event: "message", Data: "second event", HasData: true},
				{Event: "message", Data: " third event", HasData: true},
			}},
		{"a field without colon has an empty value", "data\n\ndata\ndata\n\ndata:",
			[]Event{{Event: "message", HasData: true}, {Event: "message", Data: "\n", HasData: true}}},
		{"CR and CRLF end lines", "event: a\rdata: 1\r\ndata: 2\r\r\nid: 3\n\n",
			[]Event{{Event: "a", Data: "1\n2", HasData: true}, {ID: "3", HasID: true}}},
		{"the id carries over and an id with NUL is ignored", "id: 7\ndata: a\n\nid: x\x00\ndata: b\n\n",
			[]Event{{ID: "7", HasID: true, Event: "message", Data: "a", HasData: true}, {ID: "7", Event: "message", Data: "b", HasData: true}}},
		{"retry takes only digits", "retry: 1500\n\nretry: 15x\n\nretry: -1\ndata: a\n\n",
			[]Event{{Retry: 1500 * time.Millisecond, HasRetry: true}, {Event: "message", Data: "a", HasData: true}}},
		{"a leading byte order mark is dropped", "\ufeffdata: a\n\n",
			[]Event{{Event: "message", Data: "a", HasData: true}}},
		{"an unfinished frame is dropped", "data: a\n\ndata: b\n",
			[]Event{{Event: "message", Data: "a", HasData: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}
