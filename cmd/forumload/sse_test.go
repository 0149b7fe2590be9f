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
