package streams_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"forum/forum"
	"forum/streams"
	"forum/streams/ssetest"
)

// gather returns the next n events of c, in the order they came.
func gather(t *testing.T, c *client, n int) []ssetest.Event {
	t.Helper()
	var es []ssetest.Event
	for len(es) < n {
		e := c.event(t)
		if !e.HasID {
			t.Fatalf("event %q (%s) without id", e.Event, e.Data)
		}
		es = append(es, e)
	}
	return es
}

func names(es []ssetest.Event) []string {
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Event)
	}
	return ns
}

// sameSet reports whether got holds the names of want, in any order: events
// of posts and of comments come from two change streams.
func sameSet(got []ssetest.Event, want ...string) bool {
	g := names(got)
	slices.Sort(g)
	w := slices.Clone(want)
	slices.Sort(w)
	return reflect.DeepEqual(g, w)
}

// Each edit, lock and deletion reaches the front page's listeners and the
// thread's, once each, a listener of both once, with one id.
func TestEditsLocksAndDeletionsAreLiveOnThePostsAndTheThread(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	us := users(t, store, "alice", "bob")
	alice, bob := us[0], us[1]
	admin := &forum.User{ID: alice.ID, Name: alice.Name, Admin: true}
	front := connect(t, s, []string{streams.PostsTopic}, "", false)
	p := post(t, store, alice, "Thread")
	// Once the new post has gone out, the listeners that join next cannot
	// get it.
	front.expect(t, "post")
	thread := connect(t, s, []string{streams.CommentsTopic(p.ID)}, "", false)
	both := connect(t, s, []string{streams.PostsTopic, streams.CommentsTopic(p.ID)}, "", false)
	ctx := context.Background()

	steps := []struct {
		name              string
		do                func() error
		front, thread     []string
		wantTitle, wantID string
	}{
		{name: "comment", do: func() error { _, err := store.CreateComment(ctx, bob, p.ID, "Hi"); return err },
			front: []string{"post-updated"}, thread: []string{"comment", "post-updated"}},
		{name: "edit post", do: func() error {
			title := "Edited"
			_, err := store.EditPost(ctx, alice, p.ID, forum.PostChange{Title: &title})
			return err
		}, front: []string{"post-updated"}, thread: []string{"post-updated"}},
		{name: "lock", do: func() error { _, err := store.LockPost(ctx, admin, p.ID, true); return err },
			front: []string{"post-updated"}, thread: []string{"post-updated"}},
		{name: "delete post", do: func() error { return store.DeletePost(ctx, admin, p.ID) },
			front: []string{"post-deleted"}, thread: []string{"post-deleted"}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		f, th, b := gather(t, front, len(st.front)), gather(t, thread, len(st.thread)), gather(t, both, len(st.thread))
		if !sameSet(f, st.front...) || !sameSet(th, st.thread...) || !sameSet(b, st.thread...) {
			t.Fatalf("%s: front got %v, thread %v, both %v; want %v, %v, %v", st.name, names(f), names(th), names(b), st.front, st.thread, st.thread)
		}
		// The post's event is one: the same id on the front page and
		// for a listener of both.
		last := func(es []ssetest.Event) ssetest.Event { return es[len(es)-1] }
		if fe := last(f); !slices.ContainsFunc(b, func(e ssetest.Event) bool { return e.ID == fe.ID && e.Data == fe.Data }) {
			t.Fatalf("%s: the post's event %s is not the one a listener of both got: %v", st.name, fe.ID, b)
		}
		switch st.name {
		case "edit post":
			if got := fields(t, last(f)); got["title"] != "Edited" || got["editedAt"] == nil || got["html"] == nil {
				t.Fatalf("edit: %v", got)
			}
		case "lock":
			if got := fields(t, last(f)); got["locked"] != true {
				t.Fatalf("lock: %v", got)
			}
		case "delete post":
			if got := fields(t, last(f)); len(got) != 1 || got["id"] != p.ID.Hex() {
				t.Fatalf("post-deleted data %v, want its id alone", got)
			}
		}
	}
	// The comments deleted with the post send nothing of their own.
	post(t, store, bob, "After")
	if got := gather(t, both, 1); got[0].Event != "post" {
		t.Fatalf("after the deletion, got %v, want the next post", names(got))
	}
}

func TestCommentEditsAndDeletionsAreLive(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	us := users(t, store, "alice", "bob")
	alice, bob := us[0], us[1]
	p := post(t, store, alice, "Thread")
	thread := connect(t, s, []string{streams.CommentsTopic(p.ID)}, "", false)
	c := comment(t, store, bob, p, "First")
	gather(t, thread, 2)
	ctx := context.Background()

	if _, err := store.EditComment(ctx, bob, c.ID, "Changed"); err != nil {
		t.Fatal(err)
	}
	e := thread.expect(t, "comment-updated")
	if got := fields(t, e); got["body"] != "Changed" || got["editedAt"] == nil || got["postId"] != p.ID.Hex() || got["html"] == nil {
		t.Fatalf("comment-updated: %v", got)
	}
	if err := store.DeleteComment(ctx, bob, c.ID); err != nil {
		t.Fatal(err)
	}
	es := gather(t, thread, 2)
	if !sameSet(es, "comment-deleted", "post-updated") {
		t.Fatalf("delete: got %v", names(es))
	}
	for _, e := range es {
		got := fields(t, e)
		switch e.Event {
		case "comment-deleted":
			if len(got) != 2 || got["id"] != c.ID.Hex() || got["postId"] != p.ID.Hex() {
				t.Fatalf("comment-deleted: %v", got)
			}
		case "post-updated":
			if got["comments"] != 0.0 {
				t.Fatalf("post after the deletion: %v, want 0 comments", got)
			}
		}
	}
}

// A client that was away gets the edits and deletions it missed, once and
// in each collection's order, after a disconnection and after a restart.
func TestMissedEditsAndDeletionsResume(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(map[bool]string{false: "disconnect", true: "restart"}[restart], func(t *testing.T) {
			path := t.TempDir() + "/forum.db"
			db, store := openDB(t, path)
			s := startHub(t, db.Database, store, quiet)
			us := users(t, store, "alice", "bob")
			alice, bob := us[0], us[1]
			p := post(t, store, alice, "Thread")
			topics := []string{streams.PostsTopic, streams.CommentsTopic(p.ID)}
			// Events of what comes before the edits may still be on their
			// way when a stream joins, the two collections' at their own
			// pace. A stream that is there first sees them all: once it has
			// the last of each collection's, the hub has published them, and
			// the streams that join then start after them.
			early := connect(t, s, topics, "", false)
			c1, c2 := comment(t, store, bob, p, "One"), comment(t, store, bob, p, "Two")
			marker := post(t, store, alice, "Marker")
			for sawComment, sawMarker := false, false; !sawComment || !sawMarker; {
				e := early.event(t)
				id := fields(t, e)["id"]
				sawComment = sawComment || e.Event == "comment" && id == c2.ID.Hex()
				sawMarker = sawMarker || e.Event == "post" && id == marker.ID.Hex()
			}
			early.close()
			observer := connect(t, s, topics, "", false)
			c := connect(t, s, topics, "", false)
			// A stream's first frame is its resume point.
			id := c.next(t).ID
			if id == "" {
				t.Fatal("the stream's first frame has no id")
			}
			c.close()

			// Each step waits for its events, so that each is looked up
			// before the next change.
			ctx := context.Background()
			title := "Edited"
			if _, err := store.EditPost(ctx, alice, p.ID, forum.PostChange{Title: &title}); err != nil {
				t.Fatal(err)
			}
			observer.expect(t, "post-updated") // once, though on both of its topics
			if _, err := store.EditComment(ctx, bob, c1.ID, "One, changed"); err != nil {
				t.Fatal(err)
			}
			observer.expect(t, "comment-updated")
			if err := store.DeleteComment(ctx, bob, c2.ID); err != nil {
				t.Fatal(err)
			}
			gather(t, observer, 2)
			want := []string{"post-updated", "comment-updated", "comment-deleted", "post-updated"}
			if !restart {
				if err := store.DeletePost(ctx, alice, p.ID); err != nil {
					t.Fatal(err)
				}
				observer.expect(t, "post-deleted")
				want = append(want, "post-deleted")
			}
			observer.close()
			if restart {
				s.stop()
				if err := db.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				db, store = openDB(t, path)
				t.Cleanup(func() { db.Close(context.Background()) })
				s = startHub(t, db.Database, store, quiet)
			}

			c = connect(t, s, topics, id, false)
			got := gather(t, c, len(want))
			if !sameSet(got, want...) {
				t.Fatalf("resumed with %v, want %v in any order across collections", names(got), want)
			}
			var posts, comments []string
			for _, e := range got {
				if e.Event == "comment-updated" || e.Event == "comment-deleted" {
					comments = append(comments, e.Event)
				} else {
					posts = append(posts, e.Event)
				}
			}
			wantPosts := []string{"post-updated", "post-updated"}
			if !restart {
				wantPosts = append(wantPosts, "post-deleted")
			}
			if !reflect.DeepEqual(comments, []string{"comment-updated", "comment-deleted"}) || !reflect.DeepEqual(posts, wantPosts) {
				t.Fatalf("resumed out of order: %v", names(got))
			}
			post(t, store, bob, "Next")
			if e := c.expect(t, "post"); fields(t, e)["title"] != "Next" {
				t.Fatalf("then got %s", e.Data)
			}
		})
	}
}
