package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// presenceData is the data of a presence event.
type presenceData struct {
	PostID   string   `json:"postId"`
	Viewers  int      `json:"viewers"`
	Replying []string `json:"replying"`
}

// presenceOf waits for a presence event on s that satisfies ok; presence
// events carry no id.
func presenceOf(t *testing.T, s *stream, what string, ok func(presenceData) bool) presenceData {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		e := s.nextOf(t, "presence")
		if e.HasID {
			t.Fatalf("presence event with id %q", e.ID)
		}
		var d presenceData
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatalf("presence data %q: %v", e.Data, err)
		}
		if ok(d) {
			return d
		}
	}
	t.Fatalf("timed out waiting for %s", what)
	return presenceData{}
}

func TestTypingSignal(t *testing.T) {
	srv := newServer(t)
	ann := newClient(t, srv)
	ann.register("ann")
	id := ann.createPost("Thread", "Body")["id"].(string)

	t.Run("signed out", func(t *testing.T) {
		resp, body := newClient(t, srv).do(http.MethodPost, "/api/posts/"+id+"/typing", "", nil)
		wantError(t, resp, body, http.StatusUnauthorized)
	})
	t.Run("unknown post", func(t *testing.T) {
		ben := newClient(t, srv)
		ben.register("ben")
		resp, body := ben.do(http.MethodPost, "/api/posts/0123456789abcdef01234567/typing", "", nil)
		wantError(t, resp, body, http.StatusNotFound)
	})
	t.Run("signed in, again and again", func(t *testing.T) {
		watch := newClient(t, srv).stream("/stream/posts/" + id + "/comments")
		presenceOf(t, watch, "one reader", func(d presenceData) bool { return d.Viewers == 1 && d.PostID == id })
		for range 20 {
			resp, body := ann.do(http.MethodPost, "/api/posts/"+id+"/typing", "", nil)
			wantStatus(t, resp, body, http.StatusNoContent)
		}
		presenceOf(t, watch, "ann replying", func(d presenceData) bool { return slices.Equal(d.Replying, []string{"ann"}) })
	})
}

func TestPresenceAcrossInstancesOnOneStore(t *testing.T) {
	db, store := newStore(t)
	a, _ := startServer(t, db, store)
	b, stopB := startServer(t, db, store)
	ann := newClient(t, a)
	ann.register("ann")
	id := ann.createPost("Thread", "Body")["id"].(string)
	onA := newClient(t, a).stream("/stream/posts/" + id + "/comments")
	presenceOf(t, onA, "one reader", func(d presenceData) bool { return d.Viewers == 1 })
	annOnB := newClient(t, b)
	annOnB.http.Jar = ann.http.Jar
	annOnB.stream("/stream/posts/" + id + "/comments")
	presenceOf(t, onA, "two readers", func(d presenceData) bool { return d.Viewers == 2 })
	resp, body := annOnB.do(http.MethodPost, "/api/posts/"+id+"/typing", "", nil)
	wantStatus(t, resp, body, http.StatusNoContent)
	presenceOf(t, onA, "ann replying on B", func(d presenceData) bool { return d.Viewers == 2 && slices.Equal(d.Replying, []string{"ann"}) })
	annOnB.createComment(id, "Done")
	presenceOf(t, onA, "ann's comment published", func(d presenceData) bool { return d.Viewers == 2 && len(d.Replying) == 0 })
	stopB()
	presenceOf(t, onA, "B gone", func(d presenceData) bool { return d.Viewers == 1 })
}
