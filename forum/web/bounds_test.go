package web_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"forum/forum"
	"forum/forum/web"
	"forum/streams"
	"forum/streams/ssetest"
	"forum/streams/streamstest"
)

// Bounds of the servers below: short, so that the tests wait little. The
// write bound also covers the time a handler takes before it writes, so it
// is long beside the second that 6 MB of comments take with -race.
const (
	readBound  = 500 * time.Millisecond
	writeBound = 5 * time.Second
	noBound    = time.Minute
)

// logged reports whether the log holds s.
func logged(logs *streamstest.LogBuffer, s string) bool {
	return strings.Contains(logs.String(), s)
}

// boundedServer starts a forum whose requests have read to send their body
// and write to take their response. serve starts its listener.
func boundedServer(t *testing.T, serve func(http.Handler) *httptest.Server, read, write time.Duration) (*httptest.Server, *forum.Store, *streamstest.LogBuffer) {
	t.Helper()
	db, store := newStore(t)
	logs := &streamstest.LogBuffer{}
	srv, _ := startServerWith(t, db, store, serve, slog.New(slog.NewTextHandler(logs, nil)), streams.Options{}, web.WithTimeouts(read, write))
	return srv, store, logs
}

func serveHTTP2(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	return srv
}

// seedHeavyThread stores a post with n of the longest comments, each 60 KB
// of JSON (every < is escaped as \u003c), and returns the post's id.
func seedHeavyThread(t *testing.T, store *forum.Store, n int) string {
	t.Helper()
	heavy := strings.Repeat("<", forum.MaxCommentLen)
	id, _ := seedThread(t, store, n, func(int) string { return heavy })
	return id
}

func dial(t *testing.T, srv *httptest.Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedByServer reads r, of conn, to its end and fails the test unless the
// server closes conn within a generous bound. It returns what was read.
func closedByServer(t *testing.T, conn net.Conn, r io.Reader) []byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := io.ReadAll(r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection is still open 15s on, far past the bounds")
	}
	return got
}

// trickle writes a byte to conn every few milliseconds, as a slow client
// sends its body, until a write fails or stop is called.
func trickle(conn net.Conn) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func TestSlowRequestBodyIsCutOffAfterTheReadBound(t *testing.T) {
	srv, _, logs := boundedServer(t, httptest.NewServer, readBound, noBound)
	conn := dial(t, srv)
	fmt.Fprint(conn, "POST /api/login HTTP/1.1\r\nHost: forum\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	stop := trickle(conn)
	defer stop()
	closedByServer(t, conn, conn)
	waitFor(t, "the request logged as timed out", func() bool { return logged(logs, "path=/api/login status=408") })
}

func TestUnreadResponseIsCutOffAfterTheWriteBound(t *testing.T) {
	srv, store, logs := boundedServer(t, httptest.NewServer, noBound, writeBound)
	// More than the kernel holds of a response that the client does not
	// read: the server's send buffer grows to 4 MiB (tcp_wmem), the
	// client's receive buffer stays at 128 KiB while it does not read.
	postID := seedHeavyThread(t, store, forum.MaxPageSize)
	conn := dial(t, srv)
	path := "/api/posts/" + postID + "/comments"
	fmt.Fprintf(conn, "GET %s?limit=%d HTTP/1.1\r\nHost: forum\r\n\r\n", path, forum.MaxPageSize)
	r := bufio.NewReaderSize(conn, 16)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	if status, err := r.ReadString('\n'); status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line: got %q, %v", status, err)
	}
	// The handler ends when its writes fail; only then does the client
	// read on.
	waitFor(t, "the server to give up on the response", func() bool { return logged(logs, "path="+path+" ") })
	if got := closedByServer(t, conn, r); bytes.HasSuffix(got, []byte("\r\n0\r\n\r\n")) {
		t.Fatalf("got the whole response, %d bytes: want it cut off before its last chunk", len(got))
	}
}
func TestStreamOutlivesTheBounds(t *testing.T) {
	srv, _, _ := boundedServer(t, httptest.NewServer, readBound, readBound)
	start := time.Now()
	conn := dial(t, srv)
	fmt.Fprint(conn, "GET /stream/posts HTTP/1.1\r\nHost: forum\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", resp, err)
	}
	outlives(t, start, resp.Body)
}

// outlives reads the stream until a frame arrives well after both bounds,
// from a connection opened at start.
func outlives(t *testing.T, start time.Time, stream io.Reader) {
	t.Helper()
	frames := ssetest.NewReader(stream)
	for time.Since(start) < 3*readBound {
		if _, err := frames.Next(); err != nil {
			t.Fatalf("the stream ended %v after it opened, under bounds of %v: %v", time.Since(start), readBound, err)
		}
	}
}

// Over HTTP/2 the bounds hold per request, on the streams of a connection.
func TestBoundsHoldOverHTTP2(t *testing.T) {
	// client has a small window, which leaves an unread response in the
	// server's hands.
	client := func(t *testing.T, srv *httptest.Server) *http.Client {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	do := func(t *testing.T, c *http.Client, req *http.Request) *http.Response {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.ProtoMajor != 2 {
			t.Fatalf("got %s, want HTTP/2", resp.Proto)
		}
		return resp
	}

	t.Run("slow body", func(t *testing.T) {
		srv, _, _ := boundedServer(t, serveHTTP2, readBound, noBound)
		body, sending := io.Pipe()
		defer sending.Close()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/login", body)
		req.Header.Set("Content-Type", "application/json")
		go sending.Write([]byte("{")) // and nothing after
		if resp := do(t, client(t, srv), req); resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("got %d, want 408", resp.StatusCode)
		}
	})

	t.Run("unread response", func(t *testing.T) {
		srv, store, logs := boundedServer(t, serveHTTP2, noBound, writeBound)
		// 1.2 MB, far more than the window.
		path := "/api/posts/" + seedHeavyThread(t, store, 20) + "/comments"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s?limit=%d", srv.URL, path, forum.MaxPageSize), nil)
		resp := do(t, client(t, srv), req)
		waitFor(t, "the server to give up on the response", func() bool { return logged(logs, "path="+path+" ") })
		if n, err := io.Copy(io.Discard, resp.Body); err == nil {
			t.Fatalf("read all %d bytes of the response, want it reset", n)
		}
	})

	t.Run("stream", func(t *testing.T) {
		srv, _, _ := boundedServer(t, serveHTTP2, readBound, readBound)
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stream/posts", nil)
		resp := do(t, client(t, srv), req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200", resp.StatusCode)
		}
		outlives(t, start, resp.Body)
	})
}
