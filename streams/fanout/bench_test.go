package fanout

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkDispatch publishes one event to n listeners of its topic, each of
// which takes it and records its delivery as its stream would; with
// topics=2, to the listeners of two topics, every one of which listens to
// both and gets it once.
func BenchmarkDispatch(b *testing.B) {
	data := []byte(`{"id":"6543210f6543210f6543210f","title":"A title","html":"<article>…</article>"}`)
	for _, topics := range [][]string{{"posts"}, {"posts", "comments:1"}} {
		for _, n := range []int{1, 100, 10000} {
			b.Run(fmt.Sprintf("topics=%d/listeners=%d", len(topics), n), func(b *testing.B) {
				benchmarkDispatch(b, topics, n, data)
			})
		}
	}
}

func benchmarkDispatch(b *testing.B, topics []string, n int, data []byte) {
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 3)})
	ls := make([]*Listener, n)
	spares := make([][]*Frame, n)
	for _, t := range topics {
		h.topics[t] = map[*Listener]struct{}{}
	}
	for i := range ls {
		ls[i] = newListener(topics, nil, 256, 3)
		for _, t := range topics {
			h.topics[t][ls[i]] = struct{}{}
		}
	}
	pos := uint64(0)
	deliver := func() {
		// A stream reads the clock for its write deadline anyway, and
		// dates the delivery with that reading.
		now := time.Now()
		pos++
		h.Publish(0, Position{Time: pos}, topics, "post", data, now)
		for i, l := range ls {
			<-l.signal
			spares[i], _ = l.take(spares[i])
			if len(spares[i]) != 1 {
				b.Fatalf("listener got %d frames, want 1", len(spares[i]))
			}
			h.metrics.written(spares[i], now)
			clear(spares[i])
		}
	}
	// Grow both queues of each listener, as a running stream has.
	deliver()
	deliver()
	b.ReportAllocs()
	for b.Loop() {
		deliver()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
}

// BenchmarkDirectWrite publishes one event to n listeners on loopback TCP
// connections, which the hub writes to straight from Publish, as it does to
// idle streams; the clients read and discard. Its time is mostly the write
// system call, the clients' receiving included.
func BenchmarkDirectWrite(b *testing.B) {
	data := []byte(`{"id":"6543210f6543210f6543210f","title":"A title","html":"<article>…</article>"}`)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			benchmarkDirectWrite(b, n, data)
		})
	}
}

func benchmarkDirectWrite(b *testing.B, n int, data []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	h := New(slog.New(slog.DiscardHandler), Options{Start: make([]Position, 3)})
	h.topics["posts"] = map[*Listener]struct{}{}
	ls := make([]*Listener, n)
	for i := range ls {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer client.Close()
		go io.Copy(io.Discard, client)
		conn, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		ls[i] = newListener([]string{"posts"}, nil, 256, 3)
		ls[i].raw = newRawConn(conn)
		h.topics["posts"][ls[i]] = struct{}{}
	}
	pos := uint64(0)
	deliver := func() {
		pos++
		h.Publish(0, Position{Time: pos}, []string{"posts"}, "post", data, time.Time{})
		// One write per delivery: the next event would otherwise join it.
		h.flushing.Wait()
	}
	deliver()
	b.ReportAllocs()
	for b.Loop() {
		deliver()
	}
	for _, l := range ls {
		if l.events != b.N+1 || l.pending.bp != nil {
			b.Fatalf("a listener had %d events written straight to its socket (%d bytes left over), want %d", l.events, len(l.pending.buf)-l.pendingAt, b.N+1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
}

// BenchmarkEncode encodes an event's frame with the id of three sources.
func BenchmarkEncode(b *testing.B) {
	data := []byte(`{"id":"6543210f6543210f6543210f","body":"` + strings.Repeat("words and more words ", 50) + `"}`)
	id := string(appendID(nil, []Position{{Time: 1<<40 | 7}, {Time: 1 << 40, Seq: 2}, {Time: 1 << 39}}))
	var dst []byte
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = appendFrame(dst[:0], id, "post", data)
	}
}

// BenchmarkHistoryLookup finds what a listener of one topic missed in a
// history of 100,000 events of 200 topics from three sources.
func BenchmarkHistoryLookup(b *testing.B) {
	const size = 100000
	h := newHistory(make([]Position, 3))
	topics := make([]string, 200)
	for i := range topics {
		topics[i] = fmt.Sprint("comments:", i)
	}
	for i := range size {
		src := i % 3
		v := make([]Position, 3)
		v[src] = Position{Time: uint64(i + 1)}
		h.add(entry{topics: topics[i%len(topics) : i%len(topics)+1], f: &Frame{src: src, pos: v[src], vec: v}})
	}
	for _, back := range []int{100, size / 2} {
		b.Run(fmt.Sprintf("back=%d", back), func(b *testing.B) {
			l := newListener(topics[:1], nil, 256, 3)
			for src := range 3 {
				l.floor[src] = Position{Time: uint64(size - back)}
			}
			b.ReportAllocs()
			for b.Loop() {
				l.queue = l.queue[:0]
				l.replay(h.after(l.floor))
			}
		})
	}
}
