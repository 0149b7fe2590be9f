package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"forum/streams/streamstest"
)

// testPasswordCost is the bcrypt cost of the tests' forums: the least,
// as each step doubles the time a sign-up takes, and a hash of the default
// cost takes over a second under the race detector.
const testPasswordCost = bcrypt.MinCost

// env returns a getenv over the given pairs, with the tests' password
// cost unless they set one.
func env(pairs ...string) func(string) string {
	m := map[string]string{"FORUM_PASSWORD_COST": strconv.Itoa(testPasswordCost)}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaultsAndEnvironment(t *testing.T) {
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "localhost:8080" || c.Data != filepath.Join("data", "forum.db") || c.MongoDB != "forum" ||
		c.History != 15*time.Minute || c.Heartbeat != 15*time.Second || c.StatsInterval != 5*time.Second || c.MaxStreams != 10000 ||
		c.PasswordCost != bcrypt.DefaultCost {
		t.Fatalf("defaults: got %+v", c)
	}
	if c, err := parseConfig([]string{"-password-cost", "12"}, env(), io.Discard); err != nil || c.PasswordCost != 12 {
		t.Fatalf("password cost: got %d, %v", c.PasswordCost, err)
	}
	c, err = parseConfig([]string{"-addr", ":9999"}, env("FORUM_ADDR", ":1", "FORUM_HISTORY", "1h", "FORUM_MAX_STREAMS", "5"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9999" || c.History != time.Hour || c.MaxStreams != 5 {
		t.Fatalf("flags over environment: got %+v", c)
	}
	if c.MaxUserStreams != 8 || c.MaxAddressStreams != 64 || len(c.TrustedProxies) != 0 {
		t.Fatalf("stream limit and proxy defaults: got %+v", c)
	}
	c, err = parseConfig([]string{"-max-user-streams", "3"}, env("FORUM_TRUSTED_PROXIES", " 10.0.0.1, 172.16.0.0/12,::1 ", "FORUM_MAX_ADDRESS_STREAMS", "9"), io.Discard)
	if err != nil || fmt.Sprint(c.TrustedProxies) != "[10.0.0.1/32 172.16.0.0/12 ::1/128]" || c.MaxUserStreams != 3 || c.MaxAddressStreams != 9 {
		t.Fatalf("proxies and stream limits: got %v, %d, %d, %v", c.TrustedProxies, c.MaxUserStreams, c.MaxAddressStreams, err)
	}
	c, err = parseConfig(nil, env("FORUM_HISTORY_EVENTS", "1000", "FORUM_HISTORY_BYTES", "512KiB"), io.Discard)
	if err != nil || c.HistoryEvents != 1000 || c.HistoryBytes != 512<<10 {
		t.Fatalf("history bounds: got %d events, %d bytes, %v", c.HistoryEvents, c.HistoryBytes, err)
	}
}

func TestHealthcheckAsksReadyz(t *testing.T) {
	m := startMain(t, t.TempDir())
	defer m.Close()
	u := siteURL(m)
	u.Path = "/readyz"
	var out bytes.Buffer
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for err := run(ctx, []string{"healthcheck", u.String()}, env(), &out, io.Discard); err != nil; err = run(ctx, []string{"healthcheck", u.String()}, env(), &out, io.Discard) {
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck of a running forum: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "ready") {
		t.Fatalf("healthcheck said %q", out.String())
	}
	u.Path = "/no-such-page"
	if err := run(ctx, []string{"healthcheck", u.String()}, env(), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("healthcheck of a 404: %v, want an error naming it", err)
	}
}

func TestInvalidConfigFailsFastWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"history not a duration", []string{"FORUM_HISTORY", "15"}, "FORUM_HISTORY"},
		{"negative heartbeat", []string{"FORUM_HEARTBEAT", "-1s"}, "FORUM_HEARTBEAT"},
		{"stats interval zero", []string{"FORUM_STATS_INTERVAL", "0s"}, "FORUM_STATS_INTERVAL"},
		{"max streams not a number", []string{"FORUM_MAX_STREAMS", "lots"}, "FORUM_MAX_STREAMS"},
		{"short session key", []string{"FORUM_SESSION_KEY", "short"}, "FORUM_SESSION_KEY"},
		{"unknown log format", []string{"FORUM_LOG_FORMAT", "xml"}, "FORUM_LOG_FORMAT"},
		{"history events zero", []string{"FORUM_HISTORY_EVENTS", "0"}, "FORUM_HISTORY_EVENTS"},
		{"history bytes with a unit of its own", []string{"FORUM_HISTORY_BYTES", "64MB"}, "FORUM_HISTORY_BYTES"},
		{"user streams zero", []string{"FORUM_MAX_USER_STREAMS", "0"}, "FORUM_MAX_USER_STREAMS"},
		{"address streams not a number", []string{"FORUM_MAX_ADDRESS_STREAMS", "many"}, "FORUM_MAX_ADDRESS_STREAMS"},
		{"trusted proxy not an address", []string{"FORUM_TRUSTED_PROXIES", "10.0.0.1, nginx"}, `FORUM_TRUSTED_PROXIES: "nginx"`},
		{"trusted proxy prefix too long", []string{"FORUM_TRUSTED_PROXIES", "10.0.0.0/33"}, `FORUM_TRUSTED_PROXIES: "10.0.0.0/33"`},
		{"password cost below bcrypt's least", []string{"FORUM_PASSWORD_COST", "3"}, `FORUM_PASSWORD_COST: "3"`},
		{"password cost above bcrypt's most", []string{"FORUM_PASSWORD_COST", "32"}, `FORUM_PASSWORD_COST: "32"`},
		{"password cost not a number", []string{"FORUM_PASSWORD_COST", "high"}, `FORUM_PASSWORD_COST: "high"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), nil, env(append(tc.env, "FORUM_DATA", filepath.Join(t.TempDir(), "f.db"))...), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming %s", err, tc.want)
			}
		})
	}
}

// startMain runs the forum on 127.0.0.1:0 with a data file in dir.
func startMain(t *testing.T, dir string) *Main {
	t.Helper()
	cfg, err := parseConfig(nil, env("FORUM_ADDR", "127.0.0.1:0", "FORUM_DATA", filepath.Join(dir, "forum.db"), "FORUM_HEARTBEAT", "1s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func siteURL(m *Main) *url.URL {
	u, _ := url.Parse("http://" + m.Addr().String())
	return u
}

func newJarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func postJSON(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestDataAndSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	m := startMain(t, dir)
	base := "http://" + m.Addr().String()
	c := newJarClient()
	if resp := postJSON(t, c, base+"/api/register", `{"name":"alice","password":"password123"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	if resp := postJSON(t, c, base+"/api/posts", `{"title":"kept","body":"b"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	cookies := c.Jar.Cookies(siteURL(m))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = startMain(t, dir)
	defer m.Close()
	base = "http://" + m.Addr().String()
	c = newJarClient()
	c.Jar.SetCookies(siteURL(m), cookies)
	resp, err := c.Get(base + "/api/notifications")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session after restart: got %d, want 200", resp.StatusCode)
	}
	resp, err = c.Get(base + "/api/posts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var posts []struct{ Title string }
	json.NewDecoder(resp.Body).Decode(&posts)
	if len(posts) != 1 || posts[0].Title != "kept" {
		t.Fatalf("posts after restart: got %+v", posts)
	}
}

func TestShutdownEndsStreamsWithRetryAndReturns(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout streamstest.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, env("FORUM_ADDR", "127.0.0.1:0", "FORUM_DATA", filepath.Join(dir, "forum.db")), &stdout, io.Discard)
	}()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, a, ok := strings.Cut(stdout.String(), "http://"); ok {
			addr = strings.TrimSpace(a)
		}
	}
	if addr == "" {
		t.Fatal("forum did not start")
	}
	resp, err := http.Get("http://" + addr + "/stream/posts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	start := time.Now()
	body, _ := io.ReadAll(bufio.NewReader(resp.Body))
	if !strings.Contains(string(body), "retry:") {
		t.Fatalf("stream closed without a retry hint: %q", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s, want under 5s", d)
	}
}

// TestSecondProcessIsRefused runs this test binary again as a second forum
// process on the same data file.
func TestSecondProcessIsRefused(t *testing.T) {
	if path := os.Getenv("FORUM_TEST_SECOND_PROCESS"); path != "" {
		err := run(context.Background(), nil, env("FORUM_ADDR", "127.0.0.1:0", "FORUM_DATA", path), io.Discard, io.Discard)
		if err != nil {
			os.Stderr.WriteString("forum: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir := t.TempDir()
	m := startMain(t, dir)
	defer m.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondProcessIsRefused$")
	cmd.Env = append(os.Environ(), "FORUM_TEST_SECOND_PROCESS="+filepath.Join(dir, "forum.db"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second process started on the same data file: %s", out)
	}
	if !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("second process: got %q, want a clear message", out)
	}
}

func TestSeedFillsTheStore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "forum.db")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"seed", "-posts", "12"}, env("FORUM_DATA", data), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Posts: 12/12") || !strings.Contains(out.String(), seedPassword) || !strings.Contains(out.String(), `made "alice" an admin`) {
		t.Fatalf("seed output: %q", out.String())
	}
	m := startMain(t, dir)
	defer m.Close()
	c := newJarClient()
	if resp := postJSON(t, c, "http://"+m.Addr().String()+"/api/login", `{"name":"alice","password":"`+seedPassword+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in as a seeded user: %d", resp.StatusCode)
	}
	if resp, err := c.Get("http://" + m.Addr().String() + "/api/stats"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Fatalf("stats as the seeded admin: %d", resp.StatusCode)
	}
	resp, err := c.Get("http://" + m.Addr().String() + "/api/posts?limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var posts []json.RawMessage
	json.NewDecoder(resp.Body).Decode(&posts)
	if len(posts) != 12 {
		t.Fatalf("seeded posts: got %d, want 12", len(posts))
	}

	// Seeded threads keep their participants: a new comment notifies an
	// earlier commenter who is not the post's author.
	base := "http://" + m.Addr().String()
	getJSON := func(c *http.Client, path string, out any) {
		t.Helper()
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	var thread, commenter string
	for _, raw := range posts {
		var p struct{ ID, Author string }
		json.Unmarshal(raw, &p)
		var comments []struct{ Author string }
		getJSON(c, "/api/posts/"+p.ID+"/comments", &comments)
		for _, cm := range comments {
			if cm.Author != p.Author {
				thread, commenter = p.ID, cm.Author
			}
		}
	}
	if thread == "" {
		t.Fatal("no seeded thread has a commenter other than its author")
	}
	zed := newJarClient()
	if resp := postJSON(t, zed, base+"/api/register", `{"name":"zed","password":"password123"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	resp, err = zed.Post(base+"/api/posts/"+thread+"/comments", "application/json", strings.NewReader(`{"body":"Late to this thread"}`))
	if err != nil {
		t.Fatal(err)
	}
	var made struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&made)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || made.ID == "" {
		t.Fatalf("comment on a seeded thread: %d", resp.StatusCode)
	}
	other := newJarClient()
	if resp := postJSON(t, other, base+"/api/login", `{"name":"`+commenter+`","password":"`+seedPassword+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in as %s: %d", commenter, resp.StatusCode)
	}
	var notes []struct{ CommentID string }
	getJSON(other, "/api/notifications", &notes)
	for _, n := range notes {
		if n.CommentID == made.ID {
			return
		}
	}
	t.Fatalf("%s, an earlier commenter on a seeded thread, got no notification of comment %s", commenter, made.ID)
}
