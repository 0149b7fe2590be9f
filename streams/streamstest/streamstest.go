// Package streamstest holds test helpers for code that runs live streams.
package streamstest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
)

// StallDB wraps a database so that the notifications change stream can be
// made to hang without failing, as a stuck connection would.
type StallDB struct {
	lungo.IDatabase
	mu   sync.Mutex
	gate chan struct{} // while not nil, the stream waits for it to close
}

// Stall makes the notifications stream hang at its next change.
func (d *StallDB) Stall() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gate = make(chan struct{})
}

// Release lets the notifications stream go on with what it held.
func (d *StallDB) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	close(d.gate)
	d.gate = nil
}

// hold waits while the stream is stalled.
func (d *StallDB) hold(ctx context.Context) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
}

func (d *StallDB) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	c := d.IDatabase.Collection(name, opts...)
	if name != forum.NotificationsCollection {
		return c
	}
	return &stallColl{ICollection: c, db: d}
}

type stallColl struct {
	lungo.ICollection
	db *StallDB
}

func (c *stallColl) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	cs, err := c.ICollection.Watch(ctx, pipeline, opts...)
	if err != nil {
		return nil, err
	}
	return &stallStream{IChangeStream: cs, db: c.db}, nil
}

type stallStream struct {
	lungo.IChangeStream
	db *StallDB
}

func (s *stallStream) Next(ctx context.Context) bool {
	ok := s.IChangeStream.Next(ctx)
	s.db.hold(ctx)
	return ok
}

// TryNext holds a change it got, whether it came at once (lungo) or after
// the wait of a getMore (MongoDB).
func (s *stallStream) TryNext(ctx context.Context) bool {
	ok := s.IChangeStream.TryNext(ctx)
	if ok {
		s.db.hold(ctx)
	}
	return ok
}

// logWait is how long Logged waits for a line.
const logWait = 15 * time.Second

// LogBuffer collects log output written from many goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logged waits until the log has a line with every one of parts, and
// returns it.
func (b *LogBuffer) Logged(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(logWait)
	for {
		for line := range strings.Lines(b.String()) {
			if containsAll(line, parts) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
