package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/streams/ssetest"
)

// crashDataEnv selects the helper mode of the test binary that serves the
// forum on a data file until it is killed.
const crashDataEnv = "FORUM_CRASH_DATA"

// TestCrashChild is not a test: run with crashDataEnv set, it is the forum,
// serving the data file named there on a free port, as `forum` would.
func TestCrashChild(t *testing.T) {
	data := os.Getenv(crashDataEnv)
	if data == "" {
		t.Skip("helper process of TestForumSurvivesSIGKILLDuringWrites")
	}
	args := []string{"-addr", "127.0.0.1:0", "-data", data, "-session-key", "crash-test-session-key", "-heartbeat", "200ms", "-password-cost", strconv.Itoa(testPasswordCost)}
	err := run(context.Background(), args, func(string) string { return "" }, os.Stdout, io.Discard)
	fmt.Fprintln(os.Stderr, "forum:", err)
	os.Exit(2)
}

// crashForum is one run of the forum in a child process.
type crashForum struct {
	cmd    *exec.Cmd
	url    string
	stderr bytes.Buffer
}

// startCrashForum starts the forum on data in a child process and waits
// until it is ready.
func startCrashForum(t *testing.T, data string) *crashForum {
	t.Helper()
	f := &crashForum{cmd: exec.Command(os.Args[0], "-test.run=^TestCrashChild$")}
	f.cmd.Env = append(os.Environ(), crashDataEnv+"="+data)
	f.cmd.Stderr = &f.stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "forum: listening on ")
	if err != nil || !ok {
		f.kill()
		t.Fatalf("the forum did not start: %q %v; stderr: %s", line, err, f.stderr.String())
	}
	f.url = url
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Get(url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return f
			}
		}
		if time.Now().After(deadline) {
			f.kill()
			t.Fatalf("the forum was not ready within a minute: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *crashForum) kill() {
	f.cmd.Process.Signal(syscall.SIGKILL)
	f.cmd.Wait()
}

// crashClient is a signed-in user of the JSON API.
type crashClient struct {
	name string
	http *http.Client
}

func newCrashClient(t *testing.T, name string) *crashClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &crashClient{name: name, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a JSON request and decodes a 2xx answer into out. A request the
// kill cut off is an error, as it is for any client.
func (c *crashClient) do(base, method, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(body))
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(body, out)
	}
	return res.StatusCode, nil
}

// crashLedger is what the forum acknowledged, kept across its crashes.
type crashLedger struct {
	mu       sync.Mutex
	posts    []string          // ids of posts acknowledged with 201
	comments map[string]string // acknowledged comment id -> post id
	seen     map[string]bool   // post ids delivered on the live stream
	lastID   string            // the live stream's last event id
	replayed int               // posts delivered by resumed streams
	resets   int               // resumed streams that were reset
}

func (l *crashLedger) ackPost(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.posts = append(l.posts, id)
}

func (l *crashLedger) ackComment(id, post string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.comments[id] = post
}

func (l *crashLedger) randomPost() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.posts) == 0 {
		return ""
	}
	return l.posts[rand.IntN(len(l.posts))]
}

// unseen returns the acknowledged posts the live stream has not delivered.
func (l *crashLedger) unseen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, id := range l.posts {
		if !l.seen[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestForumSurvivesSIGKILLDuringWrites kills the forum with SIGKILL at random
// moments during bursts of posts and comments from several people, 30 times.
// After every kill the data file opens, every acknowledged write is there,
// every comment agrees with its post's count and participants and has its
// notifications, and a live stream resumed with an id from before the kill
// gets the posts it missed, each once, or a reset: never a wrong event.
func TestForumSurvivesSIGKILLDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the forum 30 times")
	}
	data := filepath.Join(t.TempDir(), "forum.db")
	ledger := &crashLedger{comments: map[string]string{}, seen: map[string]bool{}}
	names := []string{"ana", "bob", "cyd", "dee"}
	clients := make([]*crashClient, len(names))
	for round := range 30 {
		f := startCrashForum(t, data)
		if round == 0 {
			// The session cookies stay valid across the kills.
			for i, name := range names {
				clients[i] = newCrashClient(t, name)
				if _, err := clients[i].do(f.url, "POST", "/api/register", map[string]string{"name": name, "password": "crash-test-password"}, nil); err != nil {
					f.kill()
					t.Fatalf("register %s: %v", name, err)
				}
			}
		}
		stream, err := openCrashStream(f.url, ledger)
		if err != nil {
			f.kill()
			t.Fatalf("round %d: %v", round, err)
		}
		if round > 0 {
			if err := stream.catchUp(ledger); err != nil {
				f.kill()
				t.Fatalf("round %d: resume from before the kill: %v", round, err)
			}
		}
		stream.follow(ledger)

		// A burst of writes, cut short by SIGKILL at a random moment. The
		// live stream's reader goes away at another random moment of it, so
		// that the resumed stream has posts to replay.
		var writers sync.WaitGroup
		for _, c := range clients {
			writers.Go(func() { crashWrites(f.url, c, ledger) })
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
		if err := stream.stop(); err != nil {
			f.kill()
			t.Fatalf("round %d: live stream: %v", round, err)
		}
		time.Sleep(time.Duration(50+rand.IntN(300)) * time.Millisecond)
		f.kill()
		writers.Wait()
		checkCrashData(t, round, data, ledger)
	}
	if len(ledger.posts) == 0 || len(ledger.comments) == 0 {
		t.Fatalf("the forum acknowledged %d posts and %d comments in 30 rounds", len(ledger.posts), len(ledger.comments))
	}
	// Resets are allowed, but a test in which every resume was reset would
	// prove nothing about replay.
	if ledger.replayed == 0 {
		t.Errorf("no resumed stream replayed a post (%d resets)", ledger.resets)
	}
	t.Logf("%d posts and %d comments acknowledged across 30 kills; resumed streams replayed %d posts, %d were reset", len(ledger.posts), len(ledger.comments), ledger.replayed, ledger.resets)
}

// crashWrites posts and comments as c until the forum goes away, recording
// each write it acknowledged.
func crashWrites(base string, c *crashClient, l *crashLedger) {
	for i := 0; ; i++ {
		post := l.randomPost()
		if post == "" || rand.IntN(3) == 0 {
			var p struct{ ID string }
			if _, err := c.do(base, "POST", "/api/posts", map[string]string{"title": fmt.Sprintf("%s's post %d", c.name, i), "body": "text"}, &p); err != nil {
				return
			}
			l.ackPost(p.ID)
			continue
		}
		var cm struct{ ID string }
		if _, err := c.do(base, "POST", "/api/posts/"+post+"/comments", map[string]string{"body": fmt.Sprintf("%s says %d", c.name, i)}, &cm); err != nil {
			return
		}
		l.ackComment(cm.ID, post)
	}
}

// crashStream is a live stream of posts, resumed from the ledger's last id.
type crashStream struct {
	res    *http.Response
	events *ssetest.Reader
	done   chan struct{}
	err    error // why following stopped, other than the stream's end
}

func openCrashStream(base string, l *crashLedger) (*crashStream, error) {
	req, err := http.NewRequest("GET", base+"/stream/posts", nil)
	if err != nil {
		return nil, err
	}
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open the live stream: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("open the live stream: %s", res.Status)
	}
	s := &crashStream{res: res, events: ssetest.NewReader(res.Body), done: make(chan struct{})}
	// The stream's first frame is its resume point. A client that hangs up
	// before it has read that frame has no id to resume from, and the test
	// would then wait for a replay that no client could ask for.
	timer := time.AfterFunc(time.Minute, func() { res.Body.Close() })
	defer timer.Stop()
	e, err := s.events.Next()
	if err == nil && !e.HasID {
		err = fmt.Errorf("its first frame %+v sets no id", e)
	}
	if err == nil {
		err = s.take(l, e)
	}
	if err != nil {
		res.Body.Close()
		return nil, fmt.Errorf("the live stream's resume point: %w", err)
	}
	return s, nil
}

// take records one post event; it fails on a post delivered twice.
func (s *crashStream) take(l *crashLedger, e ssetest.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.HasID {
		l.lastID = e.ID
	}
	if e.Event != "post" {
		return nil
	}
	var p struct{ ID string }
	if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
		return fmt.Errorf("post event %q: %w", e.Data, err)
	}
	if l.seen[p.ID] {
		return fmt.Errorf("post %s delivered twice (event id %s)", p.ID, e.ID)
	}
	l.seen[p.ID] = true
	return nil
}

// catchUp reads the resumed stream until every acknowledged post has been
// delivered, or a reset says that the stream cannot resume.
func (s *crashStream) catchUp(l *crashLedger) error {
	timer := time.AfterFunc(time.Minute, func() { s.res.Body.Close() })
	defer timer.Stop()
	for len(l.unseen()) > 0 {
		e, err := s.events.Next()
		if err != nil {
			return fmt.Errorf("posts %v never arrived: %w", l.unseen(), err)
		}
		if e.Event == "reset" {
			// The client reloads what it shows: everything stored is new.
			l.mu.Lock()
			for _, id := range l.posts {
				l.seen[id] = true
			}
			l.resets++
			l.mu.Unlock()
			return nil
		}
		if err := s.take(l, e); err != nil {
			return err
		}
		if e.Event == "post" {
			l.mu.Lock()
			l.replayed++
			l.mu.Unlock()
		}
	}
	return nil
}

// follow records the stream's events in the background until it ends.
func (s *crashStream) follow(l *crashLedger) {
	go func() {
		defer close(s.done)
		for {
			e, err := s.events.Next()
			if err != nil {
				return
			}
			if s.err = s.take(l, e); s.err != nil {
				return
			}
		}
	}()
}

// stop ends the stream and returns what went wrong while following it.
func (s *crashStream) stop() error {
	s.res.Body.Close()
	<-s.done
	return s.err
}

// checkCrashData opens the data file the killed forum left and checks that
// every acknowledged write is there and nothing is half applied.
func checkCrashData(t *testing.T, round int, data string, l *crashLedger) {
	t.Helper()
	ctx := context.Background()
	db, err := forum.OpenFile(ctx, data, 15*time.Minute)
	if err != nil {
		t.Fatalf("round %d: open the data file after SIGKILL: %v", round, err)
	}
	defer db.Close(ctx)
	var posts []struct {
		ID           primitive.ObjectID   `bson:"_id"`
		AuthorID     primitive.ObjectID   `bson:"authorId"`
		Comments     int                  `bson:"comments"`
		Participants []primitive.ObjectID `bson:"participants"`
	}
	var comments []struct {
		ID       primitive.ObjectID `bson:"_id"`
		PostID   primitive.ObjectID `bson:"postId"`
		AuthorID primitive.ObjectID `bson:"authorId"`
	}
	var notes []struct {
		Kind      string             `bson:"kind"`
		UserID    primitive.ObjectID `bson:"userId"`
		CommentID primitive.ObjectID `bson:"commentId"`
	}
	all := func(coll string, out any) {
		cur, err := db.Database.Collection(coll).Find(ctx, bson.M{})
		if err == nil {
			err = cur.All(ctx, out)
		}
		if err != nil {
			t.Fatalf("round %d: read %s: %v", round, coll, err)
		}
	}
	all(forum.PostsCollection, &posts)
	all(forum.CommentsCollection, &comments)
	all(forum.NotificationsCollection, &notes)

	stored := map[string]bool{}
	for _, c := range comments {
		stored[c.ID.Hex()] = true
	}
	for _, p := range posts {
		stored[p.ID.Hex()] = true
	}
	l.mu.Lock()
	for _, id := range l.posts {
		if !stored[id] {
			t.Errorf("round %d: acknowledged post %s is missing", round, id)
		}
	}
	for id := range l.comments {
		if !stored[id] {
			t.Errorf("round %d: acknowledged comment %s is missing", round, id)
		}
	}
	l.mu.Unlock()

	byPost := map[primitive.ObjectID][]primitive.ObjectID{} // post -> comment authors
	for _, c := range comments {
		byPost[c.PostID] = append(byPost[c.PostID], c.AuthorID)
	}
	noted := map[primitive.ObjectID]map[primitive.ObjectID]bool{} // comment -> recipients
	for _, n := range notes {
		if n.Kind != forum.NotificationComment {
			continue // the live engine's canary
		}
		if noted[n.CommentID] == nil {
			noted[n.CommentID] = map[primitive.ObjectID]bool{}
		}
		noted[n.CommentID][n.UserID] = true
	}
	author := map[primitive.ObjectID]primitive.ObjectID{}
	for _, p := range posts {
		author[p.ID] = p.AuthorID
		if p.Comments != len(byPost[p.ID]) {
			t.Errorf("round %d: post %s counts %d comments, %d are stored", round, p.ID.Hex(), p.Comments, len(byPost[p.ID]))
		}
		want := map[primitive.ObjectID]bool{}
		for _, a := range byPost[p.ID] {
			want[a] = true
		}
		got := map[primitive.ObjectID]bool{}
		for _, a := range p.Participants {
			got[a] = true
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("round %d: post %s has participants %v, its commenters are %v", round, p.ID.Hex(), got, want)
		}
	}
	for _, c := range comments {
		if c.AuthorID != author[c.PostID] && !noted[c.ID][author[c.PostID]] {
			t.Errorf("round %d: comment %s has no notification for the post's author", round, c.ID.Hex())
		}
		delete(noted, c.ID)
	}
	for id := range noted {
		t.Errorf("round %d: notifications of comment %s, which is not stored", round, id.Hex())
	}
	if t.Failed() {
		t.FailNow()
	}
}
