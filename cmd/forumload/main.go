// Command forumload measures how a running forum delivers new posts live. It
// opens many Server-Sent Events subscribers to /stream/posts, publishes posts
// through the JSON API at a fixed rate, and reports how many deliveries
// arrived, how late, and, given the server's process id on this machine, what
// each open stream and each delivery cost the server.
//
// Usage:
//
//	go run ./cmd/forumload -url http://127.0.0.1:8080 -subscribers 5000 -posts 50 -rate 10 -pid 1234
//
// or, to measure a forum of its own on a store preloaded with 10,000 posts
// and their comments (seeded by the forum binary's own `seed`):
//
//	go build -o /tmp/forum ./cmd/forum
//	go run ./cmd/forumload -forum /tmp/forum -preload 10000 -subscribers 5000
//
// It prints human-readable lines and then one JSON line with every figure. It
// exits with status 1 when a subscriber failed to connect, a stream ended
// early, or a delivery was lost or duplicated.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "forumload:", err)
		}
		os.Exit(1)
	}
}

// config is what one load run does.
type config struct {
	url            *url.URL
	name           string
	password       string
	subscribers    int
	handshakes     int
	posts          int
	rate           float64
	connectTimeout time.Duration
	drainTimeout   time.Duration
	pid            int
	forum          string // forum binary to start for the run, or ""
	preload        int    // posts to seed the started forum's store with
	tls            *tls.Config
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var rawURL string
	fs := flag.NewFlagSet("forumload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:8080", "base URL of the forum to load")
	fs.StringVar(&c.name, "name", "load_"+rand.Text()[:8], "user that publishes the posts; registered, or signed in when taken")
	fs.StringVar(&c.password, "password", "forumload-password", "password of that user")
	fs.IntVar(&c.subscribers, "subscribers", 1000, "event streams to open")
	fs.IntVar(&c.handshakes, "handshakes", 200, "most stream handshakes in flight while connecting")
	fs.IntVar(&c.posts, "posts", 50, "posts to publish")
	fs.Float64Var(&c.rate, "rate", 10, "posts published per second")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", time.Minute, "longest wait for every subscriber to connect")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 30*time.Second, "longest wait for deliveries after the last post")
	fs.IntVar(&c.pid, "pid", 0, "process id of the server on this machine, to measure its memory and CPU")
	fs.StringVar(&c.forum, "forum", "", "forum binary to start on a new embedded store for the run, instead of loading -url (its pid is measured)")
	fs.IntVar(&c.preload, "preload", 0, "posts, with their comments, to seed the started forum's store with before the run (needs -forum)")
	var ca string
	fs.StringVar(&ca, "ca", "", "PEM file of a certificate to trust for an https -url, such as a test forum's own")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return c, fmt.Errorf("-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("-ca: no PEM certificate in %s", ca)
		}
		c.tls = &tls.Config{RootCAs: pool}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("-url: %q is not an http or https URL", rawURL)
	}
	c.url = u
	switch {
	case c.subscribers < 1:
		return c, errors.New("-subscribers: open at least one stream")
	case c.handshakes < 1:
		return c, errors.New("-handshakes: allow at least one handshake at a time")
	case c.posts < 1:
		return c, errors.New("-posts: publish at least one post")
	case !(c.rate > 0):
		return c, errors.New("-rate: must be above 0")
	case c.connectTimeout <= 0 || c.drainTimeout <= 0:
		return c, errors.New("-connect-timeout and -drain-timeout must be positive")
	case c.pid < 0:
		return c, errors.New("-pid: not a process id")
	case c.preload < 0:
		return c, errors.New("-preload: not a number of posts")
	case c.preload > 0 && c.forum == "":
		return c, errors.New("-preload: name the forum binary to start with -forum")
	case c.forum != "" && c.pid != 0:
		return c, errors.New("-pid: the forum started by -forum is measured; leave -pid out")
	}
	return c, nil
}

// run loads the forum as args say, writes the report to stdout, and fails
// when the report shows a problem.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if cfg.forum != "" {
		f, err := startForum(ctx, cfg.forum, cfg.preload, cfg.subscribers+spareConns, stdout)
		if err != nil {
			return err
		}
		defer f.stop()
		cfg.url, cfg.pid = f.url, f.pid()
	}
	rep, err := load(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	if err := rep.print(stdout); err != nil {
		return err
	}
	if problems := rep.problems(); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Connections and requests besides the streams.
const (
	spareConns     = 64
	requestTimeout = 30 * time.Second
)

// settle is how long publishing waits after the last handshake, so that the
// streams a server refuses (200 with only a retry: line, then the end) have
// ended and count as failed connects.
const settle = 250 * time.Millisecond

// shared is what the publisher and the subscribers share during a run.
type shared struct {
	base      time.Time                // origin of every timestamp
	prefix    string                   // title prefix unique to this run
	started   []atomic.Int64           // when each publish request started, since base; 0 before
	ids       []atomic.Pointer[string] // the id the first delivery of each post carried
	idChanged []atomic.Bool            // a delivery of the post carried another id
	delivered atomic.Int64             // first deliveries of a post to a subscriber
	open      atomic.Int64             // streams open now
}

func newShared(posts int) *shared {
	return &shared{
		base:      time.Now(),
		prefix:    "forumload " + rand.Text()[:10] + " #",
		started:   make([]atomic.Int64, posts),
		ids:       make([]atomic.Pointer[string], posts),
		idChanged: make([]atomic.Bool, posts),
	}
}

func (sh *shared) now() time.Duration { return time.Since(sh.base) }

func (sh *shared) title(i int) string { return sh.prefix + strconv.Itoa(i) }

// index returns which post of this run title belongs to.
func (sh *shared) index(title string) (int, bool) {
	rest, ok := strings.CutPrefix(title, sh.prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0 && i < len(sh.started)
}

// sameID reports whether a delivery of post i carrying id agrees with the
// first delivery of it.
func (sh *shared) sameID(i int, id string) bool {
	first := sh.ids[i].Load()
	if first == nil {
		p := new(string)
		*p = id
		if sh.ids[i].CompareAndSwap(nil, p) {
			return true
		}
		first = sh.ids[i].Load()
	}
	if *first == id {
		return true
	}
	sh.idChanged[i].Store(true)
	return false
}

// load signs in, connects the subscribers, publishes the posts, waits for
// their deliveries and measures it all.
func load(ctx context.Context, cfg config, out io.Writer) (*Report, error) {
	limit, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raise the open-file limit: %w", err)
	}
	fmt.Fprintf(out, "forumload: %s as %s: %d subscribers, %d posts at %g/s (open-file limit %d)\n",
		cfg.url, cfg.name, cfg.subscribers, cfg.posts, cfg.rate, limit)
	if limit < uint64(cfg.subscribers+spareConns) {
		fmt.Fprintf(out, "warning: the open-file limit is below %d; some subscribers will fail\n", cfg.subscribers+spareConns)
	}
	server := probe{pid: cfg.pid}
	rssBefore, err := server.rssKB()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		// Over https, streams go on HTTP/2, as a browser's do.
		ForceAttemptHTTP2:   true,
		TLSClientConfig:     cfg.tls,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxConnsPerHost:     cfg.subscribers + cfg.posts + spareConns,
		MaxIdleConns:        spareConns,
		MaxIdleConnsPerHost: spareConns,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	noRedirects := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	api := &apiClient{base: cfg.url, http: &http.Client{Transport: tr, Timeout: requestTimeout, CheckRedirect: noRedirects}}
	if err := api.signIn(ctx, cfg.name, cfg.password); err != nil {
		return nil, err
	}

	sh := newShared(cfg.posts)
	streamCtx, closeStreams := context.WithCancel(ctx)
	poll, err := newPoller(streamCtx, runtime.GOMAXPROCS(0))
	if err != nil {
		closeStreams()
		return nil, err
	}
	var streams sync.WaitGroup
	stopStreams := func() {
		closeStreams()
		streams.Wait()
		poll.Wait()
	}
	defer stopStreams()
	connectStart := sh.now()
	client := &streamClient{
		url:    cfg.url.JoinPath("stream", "posts"),
		http:   &http.Client{Transport: tr, CheckRedirect: noRedirects},
		dialer: net.Dialer{Timeout: 10 * time.Second},
	}
	subs := connect(streamCtx, cfg, client, poll, sh, &streams)
	connectTime := sh.now() - connectStart
	sleepUntil(ctx, time.Now().Add(settle))
	open := sh.open.Load()
	fmt.Fprintf(out, "connected %d of %d in %.2fs (%d failed)\n", open, cfg.subscribers, connectTime.Seconds(), int64(cfg.subscribers)-open)
	rssAfter, err := server.rssKB()
	if err != nil {
		return nil, err
	}

	cpuBefore, err := server.cpuTicks()
	if err != nil {
		return nil, err
	}
	stopSampling := server.peakRSS()
	publishStart, streaming := sh.now(), sh.open.Load()
	results := publish(ctx, api, sh, cfg.rate)
	published := 0
	for _, r := range results {
		if r.err == nil {
			published++
		}
	}
	fmt.Fprintf(out, "published %d of %d in %.2fs; waiting for deliveries\n", published, cfg.posts, (sh.now() - publishStart).Seconds())
	drain(ctx, sh, int64(published)*streaming, cfg.drainTimeout)
	rssPeak := stopSampling()
	cpuAfter, err := server.cpuTicks()
	if err != nil {
		return nil, err
	}
	stopStreams()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}

	rep := newReport(cfg, subs, results, sh, publishStart)
	rep.ConnectS = round3(connectTime.Seconds())
	rep.ClientCPUS = round3(ownCPU().Seconds())
	if cfg.pid > 0 {
		rep.setServer(rssBefore, rssAfter, rssPeak, cpuAfter-cpuBefore)
	}
	return rep, nil
}

// connect starts the subscribers, at most cfg.handshakes handshakes at a
// time, and returns once every handshake is over or the connect timeout has
// passed. The subscribers run, owned by streams, until ctx ends.
func connect(ctx context.Context, cfg config, client *streamClient, poll *poller, sh *shared, streams *sync.WaitGroup) []*subscriber {
	connectCtx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	slots := make(chan struct{}, cfg.handshakes)
	var handshakes sync.WaitGroup
	subs := make([]*subscriber, 0, cfg.subscribers)
	for range cfg.subscribers {
		select {
		case slots <- struct{}{}:
		case <-connectCtx.Done():
		}
		if connectCtx.Err() != nil {
			break
		}
		s := newSubscriber(cfg.posts, sh)
		subs = append(subs, s)
		handshakes.Add(1)
		streams.Go(func() {
			s.run(ctx, connectCtx, client, poll, func() {
				<-slots
				handshakes.Done()
			})
		})
	}
	handshakes.Wait()
	return subs
}

// publishResult is how one publish request went.
type publishResult struct {
	id   string
	took time.Duration
	err  error
}

// publish creates one post per entry of sh.started, rate a second, each in
// its own request so that a slow answer does not delay the next post.
func publish(ctx context.Context, api *apiClient, sh *shared, rate float64) []publishResult {
	results := make([]publishResult, len(sh.started))
	for i := range results {
		results[i].err = errors.New("not published")
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range results {
		if !sleepUntil(ctx, start.Add(time.Duration(i)*interval)) {
			break
		}
		wg.Go(func() {
			began := sh.now()
			sh.started[i].Store(int64(began))
			id, err := api.createPost(ctx, sh.title(i), fmt.Sprintf("Load test post %d.", i))
			results[i] = publishResult{id: id, took: sh.now() - began, err: err}
		})
	}
	wg.Wait()
	return results
}

// sleepUntil waits until t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// drain waits until want deliveries have arrived, at most timeout.
func drain(ctx context.Context, sh *shared, want int64, timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for sh.delivered.Load() < want {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// raiseFileLimit lifts the soft limit on open files to the hard one and
// returns it.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}
