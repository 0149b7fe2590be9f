package web_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"forum/forum"
	"forum/forum/forumtest"
	"forum/forum/web"
	"forum/streams"
)

// newServer starts the forum's HTTP server with a live hub on a fresh
// embedded store in a temp folder. It has one user, the admin "root", whose
// password is that of every test user.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	db, store := newStore(t)
	makeAdmin(t, store, "root")
	srv, _ := startServer(t, db, store)
	return srv
}

// makeAdmin registers an admin the way an operator makes one: the account
// first, then the role, from the store.
func makeAdmin(t *testing.T, store *forum.Store, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := store.Register(ctx, name, testPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetAdmin(ctx, name, true); err != nil {
		t.Fatal(err)
	}
}

func newStore(t *testing.T) (*forum.DB, *forum.Store) {
	t.Helper()
	ctx := context.Background()
	db := forumtest.OpenFile(t, filepath.Join(t.TempDir(), "forum.db"), 15*time.Minute)
	t.Cleanup(func() { db.Close(ctx) })
	store, err := forum.NewStore(ctx, db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	return db, store
}

// startServer starts a forum instance, with its own hub and change streams,
// on store. stop shuts it down like a signal would; it is also called at
// cleanup.
func startServer(t *testing.T, db *forum.DB, store *forum.Store) (srv *httptest.Server, stop func()) {
	t.Helper()
	return startServerWith(t, db, store, httptest.NewServer, slog.New(slog.NewTextHandler(io.Discard, nil)), streams.Options{})
}

// startServerWith is startServer with the listener started by serve, the
// log written to log, hub options (whose zero heartbeat and stats interval
// take the tests' short ones) and the server built with opts.
func startServerWith(t *testing.T, db *forum.DB, store *forum.Store, serve func(http.Handler) *httptest.Server, log *slog.Logger, hubOpts streams.Options, opts ...web.Option) (srv *httptest.Server, stop func()) {
	t.Helper()
	hubOpts.Heartbeat = cmp.Or(hubOpts.Heartbeat, time.Second)
	hubOpts.StatsInterval = cmp.Or(hubOpts.StatsInterval, 100*time.Millisecond)
	hub := streams.New(log, db.Database, store, hubOpts)
	hubCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hub.Run(hubCtx)
	}()
	srv = serve(web.New(log, store, hub, []byte("0123456789abcdef0123456789abcdef"), opts...))
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			srv.Close()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// client is one person's browser or API client, with its own cookies.
type client struct {
	t    *testing.T
	http *http.Client
	base string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: srv.URL, http: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (c *client) do(method, path, contentType string, body io.Reader, header ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodGet, path, "", nil)
}

func (c *client) postJSON(path string, v any) (*http.Response, string) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	return c.do(http.MethodPost, path, "application/json", bytes.NewReader(b))
}

func (c *client) postForm(path string, values url.Values) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(values.Encode()))
}

// testPassword is the password of every test user.
const testPassword = "password123"

// register signs the client up as name and returns the user's id.
func (c *client) register(name string) string {
	c.t.Helper()
	return c.signIn("/api/register", name, http.StatusCreated)
}

// login signs the client in as name, who has registered, and returns the
// user's id.
func (c *client) login(name string) string {
	c.t.Helper()
	return c.signIn("/api/login", name, http.StatusOK)
}

func (c *client) signIn(path, name string, want int) string {
	c.t.Helper()
	resp, body := c.postJSON(path, map[string]string{"name": name, "password": testPassword})
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s", path, name, resp.StatusCode, body)
	}
	var u struct{ ID string }
	json.Unmarshal([]byte(body), &u)
	return u.ID
}

func (c *client) createPost(title, body string) map[string]any {
	c.t.Helper()
	resp, b := c.postJSON("/api/posts", map[string]string{"title": title, "body": body})
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("create post: %d %s", resp.StatusCode, b)
	}
	return decodeObject(c.t, b)
}

func (c *client) createComment(postID, body string) map[string]any {
	c.t.Helper()
	resp, b := c.postJSON("/api/posts/"+postID+"/comments", map[string]string{"body": body})
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("create comment: %d %s", resp.StatusCode, b)
	}
	return decodeObject(c.t, b)
}

func decodeObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return m
}

func decodeList(t *testing.T, s string) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return l
}

func wantStatus(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d; body %.300s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// wantError checks a JSON error answer.
func wantError(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	wantStatus(t, resp, body, want)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type: got %q", ct)
	}
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("error body: got %q", body)
	}
}

func keys(m map[string]any) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}
