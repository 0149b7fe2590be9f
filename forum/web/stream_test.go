package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"forum/streams/ssetest"
)

// stream is an open event stream read by its own goroutine, which ends when
// the test closes the response body.
type stream struct {
	resp   *http.Response
	events chan ssetest.Event
}

func (c *client) stream(path string, header ...string) *stream {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	s := &stream{resp: resp, events: make(chan ssetest.Event, 64)}
	c.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go func() {
		defer close(s.events)
		r := ssetest.NewReader(resp.Body)
		for {
			e, err := r.Next()
			if err != nil {
				return
			}
			s.events <- e
		}
	}()
	return s
}

// next returns the next event that carries data, skipping heartbeats.
func (s *stream) next(t *testing.T) ssetest.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatal("stream closed")
			}
			if e.HasData {
				return e
			}
		case <-timeout:
			t.Fatal("no event within 10s")
		}
	}
}

// nextOf returns the next event named name, skipping others.
func (s *stream) nextOf(t *testing.T, name string) ssetest.Event {
	t.Helper()
	for {
		if e := s.next(t); e.Event == name {
			return e
		}
	}
}

func TestStreamEndpointsCheckWhoIsWatching(t *testing.T) {
	srv := newServer(t)
	alice, root, anon := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	root.login("root")
	postID := alice.createPost("t", "b")["id"].(string)
	for _, tc := range []struct {
		name string
		c    *client
		path string
		want int
	}{
		{"posts for anyone", anon, "/stream/posts", http.StatusOK},
		{"comments for anyone", anon, "/stream/posts/" + postID + "/comments", http.StatusOK},
		{"comments of malformed id", anon, "/stream/posts/xyz/comments", http.StatusBadRequest},
		{"comments of unknown post", anon, "/stream/posts/0123456789abcdef01234567/comments", http.StatusNotFound},
		{"notifications signed out", anon, "/stream/notifications", http.StatusUnauthorized},
		{"notifications signed in", alice, "/stream/notifications", http.StatusOK},
		{"stats signed out", anon, "/stream/stats", http.StatusUnauthorized},
		{"stats for non-admin", alice, "/stream/stats", http.StatusForbidden},
		{"stats for admin", root, "/stream/stats", http.StatusOK},
		{"topics all allowed", root, "/stream?topics=posts,comments:" + postID + ",notifications,stats", http.StatusOK},
		{"topics none", anon, "/stream?topics=", http.StatusBadRequest},
		{"topics unknown", anon, "/stream?topics=posts,secrets", http.StatusBadRequest},
		{"topics other user's notifications", alice, "/stream?topics=notifications:0123456789abcdef01234567", http.StatusBadRequest},
		{"topics signed out notifications", anon, "/stream?topics=posts,notifications", http.StatusUnauthorized},
		{"topics stats for non-admin", alice, "/stream?topics=stats", http.StatusForbidden},
		{"topics malformed comments", anon, "/stream?topics=comments:zz", http.StatusBadRequest},
		{"topics unknown post", anon, "/stream?topics=comments:0123456789abcdef01234567", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.c.stream(tc.path)
			if s.resp.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", s.resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK {
				return
			}
			h := s.resp.Header
			if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-store" || h.Get("X-Accel-Buffering") != "no" {
				t.Fatalf("headers: %v", h)
			}
		})
	}
}

func TestLiveEventsCarryAPIFieldsAndTheRenderedItem(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	posts := newClient(t, srv).stream("/stream/posts")
	notes := alice.stream("/stream/notifications")
	if e := notes.nextOf(t, "unread"); e.Data != `{"count":0}` {
		t.Fatalf("unread at connect: got %q", e.Data)
	}

	post := alice.createPost("Live <b>title</b>", "body")
	e := posts.nextOf(t, "post")
	got := decodeObject(t, e.Data)
	if !e.HasID || e.ID == "" || len(e.ID) > 64 || got["id"] != post["id"] || got["title"] != post["title"] || keys(got) != "author,body,comments,createdAt,html,id,lastActivityAt,locked,title" {
		t.Fatalf("post event: id %q data %s", e.ID, e.Data)
	}
	_, page := newClient(t, srv).get("/")
	if html := got["html"].(string); !strings.Contains(page, strings.TrimSpace(html)) {
		t.Fatalf("live post html differs from the page's:\n%s", html)
	}

	postID := post["id"].(string)
	comments := newClient(t, srv).stream("/stream/posts/" + postID + "/comments")
	other := alice.createPost("other", "post")
	otherComments := newClient(t, srv).stream("/stream/posts/" + other["id"].(string) + "/comments")
	bob.createComment(postID, "hello <i>there</i>")
	e = comments.nextOf(t, "comment")
	got = decodeObject(t, e.Data)
	if got["postId"] != postID || got["body"] != "hello <i>there</i>" || keys(got) != "author,body,createdAt,html,id,postId" {
		t.Fatalf("comment event: %s", e.Data)
	}
	_, page = newClient(t, srv).get("/posts/" + postID)
	if html := got["html"].(string); !strings.Contains(page, strings.TrimSpace(html)) {
		t.Fatalf("live comment html differs from the page's:\n%s", html)
	}

	var note ssetest.Event
	for unread := ""; note.Event == "" || unread != `{"count":1}`; {
		switch e := notes.next(t); e.Event {
		case "notification":
			note = e
		case "unread":
			unread = e.Data
		}
	}
	got = decodeObject(t, note.Data)
	if got["actor"] != "bob" || got["postId"] != postID || keys(got) != "actor,commentId,createdAt,excerpt,html,id,kind,message,postId,read" {
		t.Fatalf("notification event: %s", note.Data)
	}
	alice.postJSON("/api/notifications/read", nil)
	if e := notes.nextOf(t, "unread"); e.Data != `{"count":0}` {
		t.Fatalf("unread after marking read: got %q", e.Data)
	}

	bob.createComment(other["id"].(string), "on the other post")
	if e := otherComments.nextOf(t, "comment"); !strings.Contains(e.Data, "on the other post") {
		t.Fatalf("other post's comment: %s", e.Data)
	}
	// The thread's own post's updates (its count) come on its stream;
	// nothing of the other post does.
	quiet := time.After(200 * time.Millisecond)
	for {
		select {
		case e := <-comments.events:
			if e.HasData && strings.Contains(e.Data, other["id"].(string)) {
				t.Fatalf("event of another post leaked: %s %s", e.Event, e.Data)
			}
		case <-quiet:
			return
		}
	}
}

func TestOneStreamCarriesSeveralTopics(t *testing.T) {
	srv := newServer(t)
	root, bob := newClient(t, srv), newClient(t, srv)
	root.login("root")
	bob.register("bob")
	postID := root.createPost("mine", "b")["id"].(string)
	s := root.stream("/stream?topics=posts,comments:" + postID + ",notifications,stats")
	seen := map[string]bool{}
	bob.createComment(postID, "hi")
	bob.createPost("bob's", "b")
	wants := []string{"post", "post-updated", "comment", "notification", "unread", "stats", "presence", "online"}
	for !allSeen(seen, wants) {
		seen[s.next(t).Event] = true
	}
}

// allSeen reports whether every one of names is in seen.
func allSeen(seen map[string]bool, names []string) bool {
	for _, n := range names {
		if !seen[n] {
			return false
		}
	}
	return true
}

func TestStatsEventCountsStreams(t *testing.T) {
	srv := newServer(t)
	root := newClient(t, srv)
	root.login("root")
	newClient(t, srv).stream("/stream/posts")
	s := root.stream("/stream/stats")
	var st struct {
		Users, Posts, Comments int
		Streams                map[string]int
		At                     time.Time
	}
	for st.Streams["posts"] != 1 || st.Streams["stats"] != 1 {
		if err := json.Unmarshal([]byte(s.nextOf(t, "stats").Data), &st); err != nil {
			t.Fatal(err)
		}
	}
	if st.Users != 1 || st.At.IsZero() {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPageCarriesTheResumePointOfItsStream(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv)
	alice.register("alice")
	alice.createPost("seen", "on the page")
	_, page := alice.get("/")
	_, after, ok := strings.Cut(page, `data-last-event-id="`)
	if !ok {
		t.Fatal("page has no data-last-event-id")
	}
	id := after[:strings.IndexByte(after, '"')]
	alice.createPost("made after the page", "b")
	s := alice.stream("/stream?topics=posts&lastEventId=" + id)
	// The page takes its id before it reads what it shows, so the post it
	// shows may come again (on MongoDB the change stream may not have
	// brought it yet); the one made after the page must come.
	e := s.nextOf(t, "post")
	if strings.Contains(e.Data, `"title":"seen"`) {
		e = s.nextOf(t, "post")
	}
	if !strings.Contains(e.Data, "made after the page") {
		t.Fatalf("stream opened from the page's id: got %s", e.Data)
	}
}
