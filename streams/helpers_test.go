package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/forum/forumtest"
	"forum/streams"
	"forum/streams/ssetest"
)

// wait is how long a test waits for something that should happen soon.
const wait = 15 * time.Second

// testHistory is the history tests keep.
const testHistory = time.Minute

// quiet are options under which nothing happens unasked.
// Presence then only goes out at connect, to a thread's only reader.
var quiet = streams.Options{History: testHistory, Heartbeat: time.Hour, StatsInterval: time.Hour, PresenceInterval: time.Hour, OnlineInterval: time.Hour}

// openDB opens the data file at path: on plain lungo, or through the
// MongoDB double when FORUM_TEST_DOUBLE=mongo.
func openDB(t *testing.T, path string) (*forum.DB, *forum.Store) {
	t.Helper()
	db := forumtest.OpenFile(t, path, testHistory)
	store, err := forum.NewStore(t.Context(), db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	return db, store
}

// newDB opens a fresh data file that is closed when the test ends.
func newDB(t *testing.T) (*forum.DB, *forum.Store) {
	t.Helper()
	db, store := openDB(t, filepath.Join(t.TempDir(), "forum.db"))
	t.Cleanup(func() { db.Close(context.Background()) })
	return db, store
}

// server is a running hub behind an HTTP server.
type server struct {
	hub  *streams.Hub
	srv  *httptest.Server
	once sync.Once
	stop func()
}

// startHub runs a hub over db behind a test server, and waits until it is
// ready. The hub stops when the test ends, if not before.
func startHub(t *testing.T, db lungo.IDatabase, store streams.Store, opts streams.Options) *server {
	t.Helper()
	return startHubOn(t, db, store, opts, httptest.NewUnstartedServer(nil))
}

// startHubOn is startHub on an unstarted server.
func startHubOn(t *testing.T, db lungo.IDatabase, store streams.Store, opts streams.Options, srv *httptest.Server) *server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return startHubLogged(t, db, store, opts, srv, log)
}

// startHubLogged is startHubOn with a hub that logs to log.
func startHubLogged(t *testing.T, db lungo.IDatabase, store streams.Store, opts streams.Options, srv *httptest.Server, log *slog.Logger) *server {
	t.Helper()
	hub := streams.New(log, db, store, opts)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, err := primitive.ObjectIDFromHex(r.URL.Query().Get("user")); err == nil {
			r = r.WithContext(streams.AsUser(r.Context(), id))
		}
		hub.Serve(w, r, r.URL.Query()["topic"], nil)
	})
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- hub.Run(ctx) }()
	s := &server{hub: hub, srv: srv}
	s.stop = func() {
		s.once.Do(func() {
			cancel()
			select {
			case err := <-ran:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(wait):
				t.Error("hub did not stop")
			}
			srv.Close()
		})
	}
	t.Cleanup(s.stop)
	eventually(t, "hub ready", func() bool { return hub.Ready() == nil })
	eventually(t, "every change stream open", func() bool { return hub.ChangeStreamsOpened() >= changeStreams })
	return s
}

// changeStreams is how many change streams a hub opens: one per watched
// collection (posts, comments, notifications) and one for presence.
const changeStreams = 4

// eventually waits until ok holds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client is an open event stream.
type client struct {
	resp   *http.Response
	frames chan ssetest.Event
	// states gets the presence and online events, which every stream
	// gets at connect and on change, apart from the others, so that tests
	// of other events need not skip them.
	states chan ssetest.Event
	err    error // why the stream ended, once frames is closed
	cancel context.CancelFunc
	done   chan struct{}
}

// connect opens a stream of topics, resuming after lastID if it is not
// empty: by the Last-Event-ID header, or by the lastEventId query parameter
// if byQuery.
func connect(t *testing.T, s *server, topics []string, lastID string, byQuery bool) *client {
	t.Helper()
	req, cancel := streamRequest(t, s, topics, lastID, byQuery)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return follow(t, resp, cancel)
}

// streamRequest is the request connect sends; cancel ends it.
func streamRequest(t *testing.T, s *server, topics []string, lastID string, byQuery bool) (req *http.Request, cancel context.CancelFunc) {
	t.Helper()
	q := url.Values{"topic": topics}
	if lastID != "" && byQuery {
		q.Set("lastEventId", lastID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/events?"+q.Encode(), nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if lastID != "" && !byQuery {
		req.Header.Set("Last-Event-ID", lastID)
	}
	return req, cancel
}

// follow reads the frames of a stream's response, and checks its head.
func follow(t *testing.T, resp *http.Response, cancel context.CancelFunc) *client {
	t.Helper()
	c := &client{resp: resp, frames: make(chan ssetest.Event, 1024), states: make(chan ssetest.Event, 1024), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.states)
		defer close(c.frames)
		r := ssetest.NewReader(resp.Body)
		for {
			e, err := r.Next()
			if err != nil {
				c.err = err
				return
			}
			if e.Event == streams.EventPresence || e.Event == streams.EventOnline {
				// Dropped if nobody reads them; a test that does reads on.
				select {
				case c.states <- e:
				default:
				}
				continue
			}
			c.frames <- e
		}
	}()
	t.Cleanup(c.close)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(h); got != want {
			t.Fatalf("%s: %q, want %q", h, got, want)
		}
	}
	return c
}

// close ends the stream and waits for its reader.
func (c *client) close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next frame.
func (c *client) next(t *testing.T) ssetest.Event {
	t.Helper()
	select {
	case e, ok := <-c.frames:
		if !ok {
			t.Fatalf("stream ended: %v", c.err)
		}
		return e
	case <-time.After(wait):
		t.Fatal("timed out waiting for an event")
	}
	return ssetest.Event{}
}

// event returns the next frame that fires an event, skipping heartbeats.
func (c *client) event(t *testing.T) ssetest.Event {
	t.Helper()
	for {
		if e := c.next(t); e.HasData {
			return e
		}
	}
}

// expect returns the next event, which must be called name.
func (c *client) expect(t *testing.T, name string) ssetest.Event {
	t.Helper()
	e := c.event(t)
	if e.Event != name {
		t.Fatalf("got event %q (%s), want %q", e.Event, e.Data, name)
	}
	return e
}

// expectPast returns the next event called name, passing over post-updated
// events: every comment updates its post, whose event may come before or
// after the comment's.
func (c *client) expectPast(t *testing.T, name string) ssetest.Event {
	t.Helper()
	for {
		e := c.event(t)
		if e.Event != "post-updated" || name == "post-updated" {
			if e.Event != name {
				t.Fatalf("got event %q (%s), want %q", e.Event, e.Data, name)
			}
			return e
		}
	}
}

// ended waits for the stream to end and returns its frames until then.
func (c *client) ended(t *testing.T) []ssetest.Event {
	t.Helper()
	var frames []ssetest.Event
	timeout := time.After(wait)
	for {
		select {
		case e, ok := <-c.frames:
			if !ok {
				if !errors.Is(c.err, io.EOF) && !errors.Is(c.err, io.ErrUnexpectedEOF) {
					t.Fatalf("stream ended with %v, want EOF", c.err)
				}
				return frames
			}
			frames = append(frames, e)
		case <-timeout:
			t.Fatal("stream did not end")
		}
	}
}

// fields decodes an event's data.
func fields(t *testing.T, e ssetest.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e.Data), &m); err != nil {
		t.Fatalf("event %q data %q: %v", e.Event, e.Data, err)
	}
	return m
}

// titles reads n post events and returns their titles and the last id.
func titles(t *testing.T, c *client, n int) ([]string, string) {
	t.Helper()
	var ts []string
	id := ""
	for range n {
		e := c.expectPast(t, "post")
		if !e.HasID {
			t.Fatalf("post event %s without id", e.Data)
		}
		ts = append(ts, fields(t, e)["title"].(string))
		id = e.ID
	}
	return ts, id
}

// users registers users with these names.
func users(t *testing.T, store *forum.Store, names ...string) []*forum.User {
	t.Helper()
	var us []*forum.User
	for _, n := range names {
		u, err := store.Register(t.Context(), n, "password123")
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	return us
}

// post creates a post.
func post(t *testing.T, store *forum.Store, author *forum.User, title string) *forum.Post {
	t.Helper()
	p, err := store.CreatePost(t.Context(), author, title, "Body of "+title)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// comment creates a comment.
func comment(t *testing.T, store *forum.Store, author *forum.User, p *forum.Post, body string) *forum.Comment {
	t.Helper()
	c, err := store.CreateComment(t.Context(), author, p.ID, body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// faultyDB wraps a database to count the change streams opened and to make
// them fail on demand.
type faultyDB struct {
	lungo.IDatabase
	watches atomic.Int64
	mu      sync.Mutex
	fail    map[string]error    // next error of a collection's stream
	lost    map[string]bool     // its history is gone: it cannot resume
	resumes map[string]bson.Raw // the token a collection's stream last resumed after
	tokens  map[string]bson.Raw // its stream's resume token, as the driver keeps it
}

func newFaultyDB(db lungo.IDatabase) *faultyDB {
	return &faultyDB{IDatabase: db, fail: map[string]error{}, lost: map[string]bool{}, resumes: map[string]bson.Raw{}, tokens: map[string]bson.Raw{}}
}

// resumedAfter returns the token the stream of coll last resumed after.
func (d *faultyDB) resumedAfter(coll string) bson.Raw {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.resumes[coll]
}

// token returns the resume token of the stream of coll.
func (d *faultyDB) token(coll string) bson.Raw {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tokens[coll]
}

// breakStream makes the change stream of coll fail with err at its next
// change; if lost, it can then not resume.
func (d *faultyDB) breakStream(coll string, err error, lost bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail[coll], d.lost[coll] = err, lost
}

func (d *faultyDB) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	return &faultyColl{ICollection: d.IDatabase.Collection(name, opts...), db: d}
}

type faultyColl struct {
	lungo.ICollection
	db *faultyDB
}

func (c *faultyColl) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	c.db.watches.Add(1)
	c.db.mu.Lock()
	lost := c.db.lost[c.Name()]
	delete(c.db.lost, c.Name())
	for _, o := range opts {
		if t, ok := o.ResumeAfter.(bson.Raw); ok {
			c.db.resumes[c.Name()] = t
		}
	}
	c.db.mu.Unlock()
	for _, o := range opts {
		if lost && o.ResumeAfter != nil {
			return nil, errors.New("unable to resume change stream")
		}
	}
	cs, err := c.ICollection.Watch(ctx, pipeline, opts...)
	if err != nil {
		return nil, err
	}
	return &faultyStream{IChangeStream: cs, coll: c.Name(), db: c.db}, nil
}

type faultyStream struct {
	lungo.IChangeStream
	coll  string
	db    *faultyDB
	err   error
	token bson.Raw // as of the last change handed out, or the last empty batch
}

// failing reports whether the stream is to fail now, which it does once.
func (s *faultyStream) failing() bool {
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if err := s.db.fail[s.coll]; err != nil {
		s.err = err
		delete(s.db.fail, s.coll)
		return true
	}
	return false
}

func (s *faultyStream) Next(ctx context.Context) bool {
	return s.handOut(s.IChangeStream.Next(ctx))
}

func (s *faultyStream) TryNext(ctx context.Context) bool {
	return s.handOut(s.IChangeStream.TryNext(ctx))
}

// handOut fails the stream if it is to fail, with the change it got lost,
// as a connection that breaks mid-batch loses it.
func (s *faultyStream) handOut(ok bool) bool {
	if ok && s.err == nil && s.failing() {
		return false
	}
	if s.err == nil {
		// The driver keeps the token of each change it hands out and,
		// at the end of a batch, the batch's post-batch resume token
		// (mongo-driver's ChangeStream.updatePbrtFromCommand).
		s.token = s.IChangeStream.ResumeToken()
		s.db.mu.Lock()
		s.db.tokens[s.coll] = s.token
		s.db.mu.Unlock()
	}
	return ok
}

// ResumeToken is, like the driver's after an error, the token it kept
// before the batch that failed.
func (s *faultyStream) ResumeToken() bson.Raw {
	if s.err != nil {
		return s.token
	}
	return s.IChangeStream.ResumeToken()
}

func (s *faultyStream) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.IChangeStream.Err()
}
