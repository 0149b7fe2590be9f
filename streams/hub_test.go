package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/streams"
	"forum/streams/ssetest"
	"forum/views"
)

// view is a templ component.
type view interface {
	Render(ctx context.Context, w io.Writer) error
}

// checkItem checks that an event carries v as the JSON API has it, its html
// rendered by want, and an id.
func checkItem(t *testing.T, e ssetest.Event, v any, want view) {
	t.Helper()
	if !e.HasID || !idPattern.MatchString(e.ID) {
		t.Errorf("%s event has id %q (set %v), want one part per collection", e.Event, e.ID, e.HasID)
	}
	got := fields(t, e)
	html, _ := got["html"].(string)
	delete(got, "html")
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var api map[string]any
	if err := json.Unmarshal(b, &api); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, api) {
		t.Errorf("%s event fields\n%v\nwant\n%v", e.Event, got, api)
	}
	var sb strings.Builder
	if err := want.Render(t.Context(), &sb); err != nil {
		t.Fatal(err)
	}
	if html != sb.String() {
		t.Errorf("%s event html\n%s\nwant\n%s", e.Event, html, sb.String())
	}
}

// expectUnread checks that the next event is an unread count of n, without
// id.
func expectUnread(t *testing.T, c *client, n int) {
	t.Helper()
	e := c.expect(t, "unread")
	if want := fmt.Sprintf(`{"count":%d}`, n); e.Data != want || e.HasID {
		t.Fatalf("unread event %q (id set %v), want %q without id", e.Data, e.HasID, want)
	}
}

func TestEventsReachOnlyTheirTopics(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	us := users(t, store, "alice", "bob", "carol")
	alice, bob, carol := us[0], us[1], us[2]
	// As a page does, the listeners start from the hub's position before
	// the posts were written, so they get every event since.
	from := s.hub.LastEventID()
	p1 := post(t, store, alice, "Alice's post")
	p2 := post(t, store, carol, "Carol's post")

	posts := connect(t, s, []string{streams.PostsTopic}, from, true)
	comments1 := connect(t, s, []string{streams.CommentsTopic(p1.ID)}, from, true)
	comments2 := connect(t, s, []string{streams.CommentsTopic(p2.ID)}, from, true)
	aliceN := connect(t, s, []string{streams.NotificationsTopic(alice.ID)}, from, true)
	carolN := connect(t, s, []string{streams.NotificationsTopic(carol.ID)}, from, true)
	expectUnread(t, aliceN, 0)
	expectUnread(t, carolN, 0)

	p3 := post(t, store, bob, "Bob's post")
	for _, p := range []*forum.Post{p1, p2, p3} {
		checkItem(t, posts.expectPast(t, "post"), p, views.PostCard(p))
	}

	c1 := comment(t, store, bob, p1, "Bob on Alice's post")
	checkItem(t, comments1.expectPast(t, "comment"), c1, views.CommentItem(c1))
	ns, err := store.Notifications(t.Context(), alice.ID, forum.MaxPageSize, primitive.NilObjectID)
	if err != nil || len(ns) != 1 {
		t.Fatalf("alice's notifications: %v, %v", ns, err)
	}
	checkItem(t, aliceN.expect(t, "notification"), ns[0], views.NotificationItem(ns[0]))
	expectUnread(t, aliceN, 1)

	// Alice's comment notifies Carol alone. It is the first event that
	// Carol's and post 2's listeners get: nothing of post 1 or of Alice's
	// notifications reached them.
	c2 := comment(t, store, alice, p2, "Alice on Carol's post")
	checkItem(t, comments2.expectPast(t, "comment"), c2, views.CommentItem(c2))
	n := fields(t, carolN.expect(t, "notification"))
	if n["commentId"] != c2.ID.Hex() || n["read"] != false {
		t.Fatalf("carol's notification %v, want one for comment %s", n, c2.ID.Hex())
	}
	expectUnread(t, carolN, 1)

	// Marking read changes the count; Carol's notification never reached
	// Alice.
	if _, err := store.MarkRead(t.Context(), alice.ID, nil); err != nil {
		t.Fatal(err)
	}
	expectUnread(t, aliceN, 0)

	// Comment counts updated on posts are no events.
	p4 := post(t, store, bob, "Bob's second post")
	checkItem(t, posts.expectPast(t, "post"), p4, views.PostCard(p4))
}

// label names an item event by its title or body.
func label(t *testing.T, e ssetest.Event) string {
	t.Helper()
	f := fields(t, e)
	if title, ok := f["title"].(string); ok {
		return e.Event + " " + title
	}
	return e.Event + " " + f["body"].(string)
}

// labels reads n events and returns their labels and the last id; each must
// have an id greater than the one before.
func labels(t *testing.T, c *client, n int) ([]string, string) {
	t.Helper()
	var ls []string
	id := ""
	for len(ls) < n {
		e := c.event(t)
		if e.Event == "post-updated" {
			// Every comment updates its post; the tests of edits count these.
			continue
		}
		if !e.HasID || e.ID <= id {
			t.Fatalf("%s has id %q (set %v) after %q", e.Data, e.ID, e.HasID, id)
		}
		ls = append(ls, label(t, e))
		id = e.ID
	}
	return ls, id
}

func TestResumeDeliversMissedEventsOnceInOrder(t *testing.T) {
	for _, byQuery := range []bool{false, true} {
		t.Run(map[bool]string{false: "Last-Event-ID header", true: "lastEventId query"}[byQuery], func(t *testing.T) {
			db, store := newDB(t)
			s := startHub(t, db.Database, store, quiet)
			u := users(t, store, "alice")[0]
			from := s.hub.LastEventID()
			p := post(t, store, u, "Thread")
			topics := []string{streams.PostsTopic, streams.CommentsTopic(p.ID)}
			observer := connect(t, s, topics, from, true)
			c := connect(t, s, topics, from, true)
			labels(t, observer, 1)
			labels(t, c, 1)

			post(t, store, u, "A")
			labels(t, c, 1)
			comment(t, store, u, p, "X")
			_, id := labels(t, c, 1)
			c.close()
			labels(t, observer, 2)

			// Each collection's events keep their order; across the two,
			// the order is the one their change streams delivered in, as
			// one may lag the other (Y may come after C).
			post(t, store, u, "B")
			comment(t, store, u, p, "Y")
			post(t, store, u, "C")
			labels(t, observer, 3)

			c = connect(t, s, topics, id, byQuery)
			got, _ := labels(t, c, 3)
			var posts []string
			for _, l := range got {
				if l != "comment Y" {
					posts = append(posts, l)
				}
			}
			if len(got) != 3 || !reflect.DeepEqual(posts, []string{"post B", "post C"}) {
				t.Fatalf("resumed with %v, want post B, post C and comment Y once each, B before C", got)
			}
			post(t, store, u, "D")
			if got, _ := labels(t, c, 1); got[0] != "post D" {
				t.Fatalf("then got %v, want post D", got)
			}
		})
	}
}

func TestResumeAcrossRestart(t *testing.T) {
	path := t.TempDir() + "/forum.db"
	db, store := openDB(t, path)
	s := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	observer := connect(t, s, []string{streams.PostsTopic}, "", false)
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	post(t, store, u, "One")
	_, id := titles(t, c, 1)
	c.close()
	post(t, store, u, "Two")
	post(t, store, u, "Three")
	titles(t, observer, 3)
	observer.close()
	s.stop()
	if err := db.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	db, store = openDB(t, path)
	t.Cleanup(func() { db.Close(context.Background()) })
	s = startHub(t, db.Database, store, quiet)
	post(t, store, u, "Four")
	c = connect(t, s, []string{streams.PostsTopic}, id, false)
	if got, _ := titles(t, c, 3); !reflect.DeepEqual(got, []string{"Two", "Three", "Four"}) {
		t.Fatalf("resumed after restart with %v, want Two, Three, Four", got)
	}
	post(t, store, u, "Five")
	if got, _ := titles(t, c, 1); got[0] != "Five" {
		t.Fatalf("then got %v, want Five", got)
	}
}

// idPattern is an event id: a part of 16 digits for each of posts,
// comments and notifications.
var idPattern = regexp.MustCompile(`^[-0-9A-Z_a-z]{16}\.[-0-9A-Z_a-z]{16}\.[-0-9A-Z_a-z]{16}$`)

// idAt returns the id of a time in the single-position form of earlier
// versions, which the hub still takes.
func idAt(t time.Time) string {
	return fmt.Sprintf("%08x%08x", uint32(t.Unix()), 1)
}

func TestResetForIDsItCannotResumeFrom(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	for _, tt := range []struct{ name, id, reason string }{
		{"malformed", "not-an-id", "malformed id"},
		{"upper case", fmt.Sprintf("%08X%08X", uint32(time.Now().Unix()), 0xabc), "malformed id"},
		{"too long", idAt(time.Now()) + "0", "malformed id"},
		{"from the future", idAt(time.Now().Add(24 * time.Hour)), "unknown id"},
		{"older than the history", idAt(time.Now().Add(-2 * testHistory)), "expired id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, s, []string{streams.PostsTopic}, tt.id, false)
			e := c.expect(t, "reset")
			if e.HasID || fields(t, e)["reason"] != tt.reason {
				t.Fatalf("reset %q (id set %v), want reason %q without id", e.Data, e.HasID, tt.reason)
			}
			post(t, store, u, tt.name)
			if got, _ := titles(t, c, 1); got[0] != tt.name {
				t.Fatalf("then got %v, want %s", got, tt.name)
			}
		})
	}
}

func TestHeartbeatSetsTheIDWithoutData(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, streams.Options{History: testHistory, Heartbeat: 50 * time.Millisecond, StatsInterval: time.Hour})
	u := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	beat := c.next(t)
	if !beat.HasID || beat.HasData || !idPattern.MatchString(beat.ID) {
		t.Fatalf("heartbeat %+v, want an id of one part per collection and no data", beat)
	}

	// A quiet stream's heartbeat id resumes without reset.
	resumed := connect(t, s, []string{streams.PostsTopic}, beat.ID, false)
	p := post(t, store, u, "After the beat")
	e := resumed.expectPast(t, "post")
	checkItem(t, e, p, views.PostCard(p))

	// After an event, the heartbeat's id is no older than the event's.
	if got := c.expectPast(t, "post"); got.ID != e.ID {
		t.Fatalf("post has id %s on one stream and %s on another", got.ID, e.ID)
	}
	if beat := c.next(t); beat.HasData || !beat.HasID || beat.ID < e.ID {
		t.Fatalf("heartbeat after post %s: %+v", e.ID, beat)
	}
}

func TestServerWriteTimeoutDoesNotCutStreams(t *testing.T) {
	db, store := newDB(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.WriteTimeout = 100 * time.Millisecond
	s := startHubOn(t, db.Database, store, quiet, srv)
	u := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	time.Sleep(3 * srv.Config.WriteTimeout)
	post(t, store, u, "Late")
	if got, _ := titles(t, c, 1); got[0] != "Late" {
		t.Fatalf("got %v, want Late", got)
	}
}

func TestTwoHubsShareOneStore(t *testing.T) {
	db, store := newDB(t)
	a := startHub(t, db.Database, store, quiet)
	b := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	ca := connect(t, a, []string{streams.PostsTopic}, "", false)
	cb := connect(t, b, []string{streams.PostsTopic}, "", false)

	post(t, store, u, "One")
	ea, eb := ca.expectPast(t, "post"), cb.expectPast(t, "post")
	// An id's part of the event's own collection is the same on every
	// instance; the others say how far each instance had got.
	if own := func(id string) string { return strings.Split(id, ".")[0] }; own(ea.ID) != own(eb.ID) || ea.Data != eb.Data {
		t.Fatalf("hubs sent the same change differently:\n%+v\n%+v", ea, eb)
	}
	ca.close()
	post(t, store, u, "Two")
	post(t, store, u, "Three")
	_, idTwo := titles(t, cb, 1)
	titles(t, cb, 1)

	// A's id resumes on B, and B's on A.
	onB := connect(t, b, []string{streams.PostsTopic}, ea.ID, false)
	onA := connect(t, a, []string{streams.PostsTopic}, idTwo, false)
	post(t, store, u, "Four")
	if got, _ := titles(t, onB, 3); !reflect.DeepEqual(got, []string{"Two", "Three", "Four"}) {
		t.Fatalf("resumed on B with %v", got)
	}
	if got, _ := titles(t, onA, 2); !reflect.DeepEqual(got, []string{"Three", "Four"}) {
		t.Fatalf("resumed on A with %v", got)
	}
}

func TestOneChangeStreamPerCollectionWhateverTheListeners(t *testing.T) {
	db, store := newDB(t)
	fdb := newFaultyDB(db.Database)
	s := startHub(t, fdb, store, quiet)
	u := users(t, store, "alice")[0]
	check := func(listeners int) {
		t.Helper()
		if w, o := fdb.watches.Load(), s.hub.ChangeStreamsOpened(); w != changeStreams || o != changeStreams {
			t.Fatalf("with %d listeners: %d change streams watched, %d opened, want %d", listeners, w, o, changeStreams)
		}
	}
	first := connect(t, s, []string{streams.PostsTopic}, "", false)
	check(1)
	p := post(t, store, u, "Thread")
	titles(t, first, 1)
	clients := []*client{first}
	for i := range 49 {
		topics := [][]string{
			{streams.PostsTopic},
			{streams.CommentsTopic(p.ID)},
			{streams.NotificationsTopic(primitive.NewObjectID())},
			{streams.PostsTopic, streams.CommentsTopic(p.ID)},
		}[i%4]
		clients = append(clients, connect(t, s, topics, "", false))
	}
	if got := s.hub.Streams(); got["posts"] != 26 || got["comments"] != 24 || got["notifications"] != 12 || got["stats"] != 0 {
		t.Fatalf("streams %v", got)
	}
	post(t, store, u, "For everyone")
	for i, c := range clients {
		if i == 0 || i%4 == 1 || i%4 == 0 {
			titles(t, c, 1)
		}
	}
	check(50)
}

func TestShutdownSendsRetryAndCloses(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	clients := []*client{
		connect(t, s, []string{streams.PostsTopic}, "", false),
		connect(t, s, []string{streams.StatsTopic}, "", false),
		connect(t, s, []string{streams.NotificationsTopic(u.ID)}, "", false),
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.stop()
	}()
	for _, c := range clients {
		frames := c.ended(t)
		if len(frames) == 0 {
			t.Fatal("stream closed without retry")
		}
		last := frames[len(frames)-1]
		if !last.HasRetry || last.Retry < time.Second || last.Retry > 5*time.Second {
			t.Fatalf("last frame %+v, want a retry of 1s to 5s", last)
		}
	}
	<-stopped
	if s.hub.Ready() == nil {
		t.Fatal("stopped hub is ready")
	}
}

func TestTooManyStreamsAreToldToRetryLater(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, streams.Options{History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour, MaxStreams: 2})
	first := connect(t, s, []string{streams.PostsTopic}, "", false)
	connect(t, s, []string{streams.PostsTopic}, "", false)
	frames := connect(t, s, []string{streams.PostsTopic}, "", false).ended(t)
	if len(frames) != 1 || !frames[0].HasRetry || frames[0].Retry < 10*time.Second || frames[0].Retry > 30*time.Second {
		t.Fatalf("third stream got %+v, want one retry of 10s to 30s", frames)
	}
	first.close()
	eventually(t, "a place free", func() bool { return s.hub.Streams()["posts"] == 1 })
	connect(t, s, []string{streams.PostsTopic}, "", false)
	if n := s.hub.Streams()["posts"]; n != 2 {
		t.Fatalf("%d posts streams open, want 2", n)
	}
}

func TestUnknownTopicIsABadRequest(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	for _, q := range []string{"", "?topic=users", "?topic=comments:zz", "?topic=comments:" + strings.ToUpper(primitive.NewObjectID().Hex())} {
		resp, err := s.srv.Client().Get(s.srv.URL + "/events" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%q: status %d, want 400", q, resp.StatusCode)
		}
	}
}

// statsOf checks a stats event and returns its data.
func statsOf(t *testing.T, e ssetest.Event, store *forum.Store) map[string]any {
	t.Helper()
	if e.Event != "stats" || e.HasID {
		t.Fatalf("got %q (id set %v), want stats without id", e.Event, e.HasID)
	}
	f := fields(t, e)
	want, err := store.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f["users"] != float64(want.Users) || f["posts"] != float64(want.Posts) || f["comments"] != float64(want.Comments) {
		t.Errorf("stats %v, want %+v", f, want)
	}
	streams, _ := f["streams"].(map[string]any)
	for _, k := range []string{"posts", "comments", "notifications", "stats"} {
		if _, ok := streams[k].(float64); !ok {
			t.Errorf("stats streams %v lack %q", f["streams"], k)
		}
	}
	if streams["stats"].(float64) < 1 {
		t.Errorf("stats streams %v count no stats viewer", streams)
	}
	at, err := time.Parse(time.RFC3339, fmt.Sprint(f["at"]))
	if err != nil || time.Since(at).Abs() > time.Minute {
		t.Errorf("stats at %v: %v", f["at"], err)
	}
	return f
}

func TestStatsAreComputedOncePerIntervalOnlyWhileWatched(t *testing.T) {
	t.Run("not without viewers", func(t *testing.T) {
		db, store := newDB(t)
		s := startHub(t, db.Database, store, streams.Options{History: testHistory, Heartbeat: time.Hour, StatsInterval: 20 * time.Millisecond})
		connect(t, s, []string{streams.PostsTopic}, "", false)
		time.Sleep(300 * time.Millisecond)
		if n := s.hub.StatsComputed(); n != 0 {
			t.Fatalf("stats computed %d times without viewers", n)
		}
	})
	t.Run("once for many new viewers", func(t *testing.T) {
		db, store := newDB(t)
		s := startHub(t, db.Database, store, quiet)
		users(t, store, "alice")
		var clients []*client
		for range 50 {
			clients = append(clients, connect(t, s, []string{streams.StatsTopic}, "", false))
		}
		for _, c := range clients {
			statsOf(t, c.event(t), store)
		}
		if n := s.hub.StatsComputed(); n != 1 {
			t.Fatalf("stats computed %d times for 50 viewers, want 1", n)
		}
	})
	t.Run("once per interval while watched", func(t *testing.T) {
		db, store := newDB(t)
		interval := 100 * time.Millisecond
		s := startHub(t, db.Database, store, streams.Options{History: testHistory, Heartbeat: time.Hour, StatsInterval: interval})
		began := time.Now()
		var clients []*client
		for range 3 {
			clients = append(clients, connect(t, s, []string{streams.StatsTopic}, "", false))
		}
		for range 5 {
			statsOf(t, clients[0].event(t), store)
		}
		if n, most := s.hub.StatsComputed(), int64(time.Since(began)/interval)+2; n > most {
			t.Fatalf("stats computed %d times in %v, want at most %d", n, time.Since(began), most)
		}
		for _, c := range clients {
			c.close()
		}
		eventually(t, "viewers gone", func() bool { return s.hub.Streams()["stats"] == 0 })
		time.Sleep(2 * interval)
		n := s.hub.StatsComputed()
		time.Sleep(5 * interval)
		if m := s.hub.StatsComputed(); m != n {
			t.Fatalf("stats computed %d more times without viewers", m-n)
		}
	})
}

func TestFirstFrameIsTheResumePoint(t *testing.T) {
	db, store := newDB(t)
	s := startHub(t, db.Database, store, quiet)
	u := users(t, store, "alice")[0]
	start := s.hub.LastEventID()
	post(t, store, u, "before")
	part := func(id string, i int) string { return strings.Split(id, ".")[i] }
	// The hub's position in posts must have moved past the post for the two
	// to agree; its other parts may go on moving.
	eventually(t, "post seen", func() bool { return part(s.hub.LastEventID(), 0) != part(start, 0) })
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	first := c.next(t)
	now := s.hub.LastEventID()
	if !first.HasID || first.HasData || !idPattern.MatchString(first.ID) || part(first.ID, 0) != part(now, 0) ||
		part(first.ID, 1) > part(now, 1) || part(first.ID, 2) > part(now, 2) {
		t.Fatalf("first frame: %+v, want an id-only frame at %s", first, now)
	}
	c.close()

	post(t, store, u, "missed")
	c = connect(t, s, []string{streams.PostsTopic}, first.ID, false)
	if got, _ := labels(t, c, 1); got[0] != "post missed" {
		t.Fatalf("resumed from the first frame with %v, want post missed", got)
	}
}
