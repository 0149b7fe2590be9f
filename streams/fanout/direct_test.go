package fanout

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"forum/streams/ssetest"
)

// A client that stops reading fills its socket: the hub's writes that do not
// wait leave the rest to the stream's goroutine. Publishing never waits for
// it, a client that reads meanwhile gets everything, and once the stalled
// client reads again it gets every event, whole, once and in order.
func TestStalledReaderGetsEveryEventInOrderOnceItReadsAgain(t *testing.T) {
	const events, size = 300, 64 << 10 // 19 MB: more than loopback sockets buffer
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 1), QueueSize: 2 * events, HistoryBytes: 1 << 30, WriteTimeout: time.Minute})
	srv, _ := serveHub(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reading := open(t, ctx, srv, "")

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both streams to register", func() bool { return h.registered() == 2 })

	payload := func(i int) string { return fmt.Sprintf("%04d %s", i, strings.Repeat("x", size)) }
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range events {
			h.Publish(0, Position{Time: uint64(i + 1)}, []string{"a"}, "e", []byte(payload(i)), time.Time{})
		}
	}()
	select {
	case <-published:
	case <-time.After(wait):
		t.Fatal("publishing waited for the client that does not read")
	}
	for i := range events {
		if e := nextData(t, reading); e.Data != payload(i) {
			t.Fatalf("reading client: event %d is %.10q…, want %.10q…", i, e.Data, payload(i))
		}
	}

	conn.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ssetest.NewReader(resp.Body)
	for i := 0; i < events; {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("stalled client, after %d events: %v", i, err)
		}
		if !e.HasData {
			continue
		}
		if e.Data != payload(i) {
			t.Fatalf("stalled client: event %d is %.10q… (%d bytes), want %.10q…", i, e.Data, len(e.Data), payload(i))
		}
		i++
	}
}

// Publishing can go on after the hub is closed, while its streams are
// going, as a source still reading does: no flush starts then, so that
// Wait never races with one starting and returns with none behind it.
func TestNoFlushStartsOnceTheHubIsClosed(t *testing.T) {
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 1)})
	l := newListener([]string{"a"}, nil, 16, 1)
	if refusal, _ := h.register(l, "", false); refusal != nil {
		t.Fatalf("refused: %s", refusal)
	}
	h.Close()
	h.Publish(0, Position{Time: 1}, []string{"a"}, "e", []byte("after"), time.Time{})
	h.mu.Lock()
	running := h.flushRunning
	h.mu.Unlock()
	if running {
		t.Error("a flush started after the hub closed")
	}
	h.unregister(l)
	h.Wait()
}
