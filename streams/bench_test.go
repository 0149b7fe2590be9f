package streams

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/views"
)

// BenchmarkDispatch publishes one change to n listeners of its topic, each
// of which takes it and records its delivery as its Serve goroutine would.
func BenchmarkDispatch(b *testing.B) {
	data := []byte(`{"id":"6543210f6543210f6543210f","title":"A title","html":"<article>…</article>"}`)
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			h := New(slog.New(slog.DiscardHandler), nil, nil, Options{})
			ls := make([]*listener, n)
			spares := make([][]*frame, n)
			h.topics[PostsTopic] = map[*listener]struct{}{}
			for i := range ls {
				ls[i] = newListener([]string{PostsTopic}, []string{postsKind}, 256)
				h.topics[PostsTopic][ls[i]] = struct{}{}
			}
			f := newFrame(1, "post", data)
			f.at = time.Now()
			pos := uint64(0)
			deliver := func() {
				// A stream reads the clock for its write deadline anyway, and
				// dates the delivery with that reading.
				now := time.Now()
				pos++
				h.publish(pos, PostsTopic, f)
				if pos%4096 == 0 {
					h.hist.trim(pos)
				}
				for i, l := range ls {
					<-l.signal
					spares[i], _ = l.take(spares[i])
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
		})
	}
}

// BenchmarkEncode encodes an event's frame, and builds a post's whole event:
// JSON, html and frame.
func BenchmarkEncode(b *testing.B) {
	b.Run("frame", func(b *testing.B) {
		data := []byte(`{"id":"6543210f6543210f6543210f","body":"` + strings.Repeat("words and more words ", 50) + `"}`)
		id := string(appendID(nil, 1<<40|7))
		var dst []byte
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			dst = appendFrame(dst[:0], id, "post", data)
		}
	})
	b.Run("post", func(b *testing.B) {
		p := &forum.Post{ID: primitive.NewObjectID(), Title: "A title", Body: strings.Repeat("words and more words ", 50), Author: "alice", CreatedAt: time.Now()}
		b.ReportAllocs()
		for b.Loop() {
			data, err := eventData(context.Background(), p, views.PostCard(p))
			if err != nil {
				b.Fatal(err)
			}
			newFrame(1, "post", data)
		}
	})
}

// BenchmarkHistoryLookup finds what a listener of one post's comments missed
// in a history of 100,000 events of 200 topics.
func BenchmarkHistoryLookup(b *testing.B) {
	const size = 100000
	var h history
	topics := make([]string, 200)
	for i := range topics {
		topics[i] = CommentsTopic(primitive.NewObjectID())
	}
	for i := range size {
		h.add(entry{topic: topics[i%len(topics)], f: &frame{ts: uint64(i + 1)}})
	}
	for _, back := range []int{100, size / 2} {
		b.Run(fmt.Sprintf("back=%d", back), func(b *testing.B) {
			l := newListener(topics[:1], []string{commentsKind}, 256)
			b.ReportAllocs()
			for b.Loop() {
				l.queue = l.queue[:0]
				l.replay(h.after(uint64(size - back)))
			}
		})
	}
}
