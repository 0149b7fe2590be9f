package streams_test

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"forum/streams"
	"forum/streams/ssetest"
)

// smallBuffers makes the server's sockets buffer little, so that a client
// that does not read soon blocks the server's writes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// dialSmall opens a connection to addr that buffers little of what it
// receives.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return cmp.Or(err, serr)
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A stream that is never cut off would keep its reader waiting: fail
	// instead of hanging.
	if err := conn.SetReadDeadline(time.Now().Add(2 * wait)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestStalledListenerIsCutOffWhileOthersGetEverything(t *testing.T) {
	db, store := newDB(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener = smallBuffers{srv.Listener}
	s := startHubOn(t, db.Database, store, streams.Options{
		History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour,
		QueueSize: 16, WriteTimeout: time.Minute,
	}, srv)
	u := users(t, store, "alice")[0]
	healthy := connect(t, s, []string{streams.PostsTopic}, "", false)
	stalled := dialSmall(t, srv.Listener.Addr().String())
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/events?topic=posts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write(stalled); err != nil {
		t.Fatal(err)
	}
	eventually(t, "stalled stream open", func() bool { return s.hub.Streams()["posts"] == 2 })

	const n = 40
	var want []string
	body := strings.Repeat("A long body that fills buffers. ", 400)
	var got []string
	// In step with the healthy listener, so that only the stalled one
	// falls behind however fast the store writes.
	for i := range n {
		title := fmt.Sprintf("Post %02d", i)
		if _, err := store.CreatePost(t.Context(), u, title, body); err != nil {
			t.Fatal(err)
		}
		want = append(want, title)
		one, _ := titles(t, healthy, 1)
		got = append(got, one...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("healthy listener got %v", got)
	}

	// The stalled client reads at last: what was under way, then the end.
	resp, err := http.ReadResponse(bufio.NewReader(stalled), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	all, err := ssetest.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var frames []ssetest.Event
	for _, f := range all {
		if f.HasData && f.Event == streams.EventPost {
			frames = append(frames, f)
		}
	}
	if len(frames) == 0 || len(frames) >= n {
		t.Fatalf("stalled listener got %d of %d posts before it was cut off", len(frames), n)
	}
	eventually(t, "stalled stream closed", func() bool { return s.hub.Streams()["posts"] == 1 })

	// Reconnecting with its last id, it gets the rest, once.
	again := connect(t, s, []string{streams.PostsTopic}, frames[len(frames)-1].ID, false)
	if rest, _ := titles(t, again, n-len(frames)); !reflect.DeepEqual(rest, want[len(frames):]) {
		t.Fatalf("after %d posts, resumed with %v", len(frames), rest)
	}
}

func TestNoGoroutinesLeftBehind(t *testing.T) {
	db, store := newDB(t)
	u := users(t, store, "alice")[0]
	p := post(t, store, u, "Thread")
	before := runtime.NumGoroutine()

	s := startHub(t, db.Database, store, streams.Options{History: testHistory, Heartbeat: 20 * time.Millisecond, StatsInterval: 20 * time.Millisecond})
	var clients []*client
	for _, topics := range [][]string{
		{streams.PostsTopic},
		{streams.CommentsTopic(p.ID), streams.NotificationsTopic(u.ID)},
		{streams.StatsTopic},
	} {
		clients = append(clients, connect(t, s, topics, "", false))
	}
	clients[1].expect(t, "unread")
	clients[2].expect(t, "stats")
	post(t, store, u, "Live")
	titles(t, clients[0], 1)
	for _, c := range clients {
		c.close()
	}
	eventually(t, "streams closed", func() bool { return s.hub.Streams()["posts"] == 0 })
	s.stop()

	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBrokenChangeStreamResumesWithoutLoss(t *testing.T) {
	db, store := newDB(t)
	fdb := newFaultyDB(db.Database)
	s := startHub(t, fdb, store, quiet)
	u := users(t, store, "alice")[0]
	c := connect(t, s, []string{streams.PostsTopic}, "", false)
	post(t, store, u, "One")
	titles(t, c, 1)

	fdb.breakStream("posts", errors.New("connection reset"), false)
	post(t, store, u, "Two")
	post(t, store, u, "Three")
	if got, _ := titles(t, c, 2); !reflect.DeepEqual(got, []string{"Two", "Three"}) {
		t.Fatalf("after the stream broke got %v, want Two, Three", got)
	}
	if n := s.hub.ChangeStreamsOpened(); n != changeStreams+1 {
		t.Fatalf("%d change streams opened, want %d", n, changeStreams+1)
	}
}

func TestLostHistoryResetsTheCollectionsListeners(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		lost bool
	}{
		{"stream lost its position", lungo.ErrLostOplogPosition, false},
		{"resume refused", errors.New("connection reset"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, store := newDB(t)
			fdb := newFaultyDB(db.Database)
			s := startHub(t, fdb, store, quiet)
			u := users(t, store, "alice")[0]
			from := s.hub.LastEventID()
			p := post(t, store, u, "Thread")
			posts := connect(t, s, []string{streams.PostsTopic}, from, true)
			comments := connect(t, s, []string{streams.CommentsTopic(p.ID)}, from, true)
			post(t, store, u, "Before")
			_, before := titles(t, posts, 2)

			fdb.breakStream("posts", tt.err, tt.lost)
			post(t, store, u, "Lost")
			e := posts.expect(t, "reset")
			if e.HasID || fields(t, e)["reason"] != "history lost" {
				t.Fatalf("reset %q (id set %v), want history lost without id", e.Data, e.HasID)
			}
			eventually(t, "posts change stream reopened", func() bool { return s.hub.ChangeStreamsOpened() == changeStreams+1 && s.hub.Ready() == nil })
			post(t, store, u, "After")
			if got, _ := titles(t, posts, 1); got[0] != "After" {
				t.Fatalf("then got %v, want After", got)
			}

			// A thread's listeners were reset too, its post's changes
			// coming from the posts collection, and go on.
			comments.expect(t, "reset")
			comment(t, store, u, p, "Still here")
			comments.expectPast(t, "comment")

			// Ids from before the loss can no longer resume.
			c := connect(t, s, []string{streams.PostsTopic}, before, false)
			if e := c.expect(t, "reset"); fields(t, e)["reason"] != "expired id" {
				t.Fatalf("resuming from before the loss: %s", e.Data)
			}
		})
	}
}
