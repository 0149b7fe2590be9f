package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// decodedFields is what encoding/json makes of the same object: postFields
// must agree with it on every valid object.
func decodedFields(data []byte) (id, title string, ok bool) {
	var v struct {
		ID    any `json:"id"`
		Title any `json:"title"`
	}
	if json.Unmarshal(data, &v) != nil {
		return "", "", false
	}
	id, _ = v.ID.(string)
	title, _ = v.Title.(string)
	return id, title, true
}

var postObjects = []string{
	`{"id":"6543210f","title":"forumload 1","html":"<li>x</li>"}`,
	`{"html":"<a href=\"/p\">\"title\":\"no\"</a>","author":{"id":"u1","title":"nested"},"tags":["a",{"b":[1,2]}],"n":12.5e3,"ok":true,"none":null,"id":"p2","title":"t2"}`,
	` { "id" : "p3" , "title" : "with \"quotes\" and \\ and \u00e9" } `,
	`{"title":"only title"}`,
	`{"count":3,"id":"p4","z":false,"title":""}`,
	"{\"id\":\"p5\",\n\t\"title\":\"tabs\\tand\\nlines\"}",
	`{"a":"\\","id":"p6","title":"after a backslash"}`,
	`{}`,
}

func TestPostFieldsAgreesWithEncodingJSON(t *testing.T) {
	for _, obj := range postObjects {
		wantID, wantTitle, _ := decodedFields([]byte(obj))
		id, title, err := postFields([]byte(obj))
		if err != nil || id != wantID || title != wantTitle {
			t.Errorf("postFields(%s) = %q, %q, %v; want %q, %q", obj, id, title, err, wantID, wantTitle)
		}
	}
}

func TestPostFieldsRejectsWhatIsNotAnObject(t *testing.T) {
	for _, data := range []string{``, `[]`, `"id"`, `{"id":"p1"`, `{"id":"p1",`, `{"id":1,"title":"t"}`, `{"id":"unterminated}`, `{"x" "id":"p"}`} {
		if id, title, err := postFields([]byte(data)); err == nil && id != "" && title != "" {
			t.Errorf("postFields(%s) = %q, %q; want an error or a missing field", data, id, title)
		}
	}
}

func FuzzPostFields(f *testing.F) {
	for _, obj := range postObjects {
		f.Add(obj)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		id, title, err := postFields([]byte(obj))
		wantID, wantTitle, valid := decodedFields([]byte(obj))
		if !valid || !strings.HasPrefix(strings.TrimSpace(obj), "{") {
			return // anything but a panic will do
		}
		if err == nil && (id != wantID && id != "" || title != wantTitle && title != "") {
			t.Fatalf("postFields(%q) = %q, %q; encoding/json says %q, %q", obj, id, title, wantID, wantTitle)
		}
	})
}

func TestLineEndFindsTheFirstCROrLF(t *testing.T) {
	for in, want := range map[string]int{"": -1, "abc": -1, "a\nb": 1, "a\rb": 1, "ab\r\n": 2, "a\nb\r": 1, "ab\rc\n": 2} {
		if got := lineEnd([]byte(in)); got != want {
			t.Errorf("lineEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

// The parser gets a stream in whatever pieces the network delivers: every
// way of cutting it in two or three gives the events of the whole.
func TestEventParserGivesTheSameEventsHoweverTheStreamIsCut(t *testing.T) {
	stream := "\xEF\xBB\xBF: comment\r\nid: 1\r\nevent: post\r\ndata: {\"a\":1}\r\ndata: second line\r\n\r\n" +
		"retry: 5\n\nevent: reset\rdata: x\r\rdata: plain\n\n" + "event: post\ndata: unfinished"
	want := []string{"post:{\"a\":1}\nsecond line", "reset:x", "message:plain"}
	parse := func(pieces ...string) []string {
		var p eventParser
		var got []string
		for _, piece := range pieces {
			if err := p.feed([]byte(piece), func(typ, data []byte) { got = append(got, string(typ)+":"+string(data)) }); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	same := func(got []string) bool { return strings.Join(got, "|") == strings.Join(want, "|") }
	if got := parse(stream); !same(got) {
		t.Fatalf("whole stream: %q, want %q", got, want)
	}
	for i := range len(stream) {
		for j := i; j < len(stream); j += 7 {
			if got := parse(stream[:i], stream[i:j], stream[j:]); !same(got) {
				t.Fatalf("cut at %d and %d: %q, want %q", i, j, got, want)
			}
		}
	}
}

func TestEventParserRefusesALineLongerThanItsBound(t *testing.T) {
	var p eventParser
	long := "data: " + strings.Repeat("x", 64<<10)
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		err = p.feed([]byte(long), func(typ, data []byte) {})
	}
	if err != errLineTooLong {
		t.Fatalf("feeding a 1.3 MB line: %v, want %v", err, errLineTooLong)
	}
}
