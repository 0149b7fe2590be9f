package streams

import (
	"cmp"
	"slices"
	"sync"
)

// listener is one open stream. The hub pushes frames into its queue without
// ever waiting; the Serve goroutine that owns it takes them and writes them.
type listener struct {
	topics []string
	kinds  []string      // the distinct kinds of its topics
	signal chan struct{} // capacity 1: a push may have happened since the last take

	// Owned by the Serve goroutine; set by the hub before serving begins.
	floor uint64 // the position it resumed from: it has every event up to it
	sent  uint64 // the highest id written to it

	mu      sync.Mutex
	queue   []*frame
	max     int  // queue length at which it is cut off
	size    int  // max after the first take
	evicted bool // it fell behind and is cut off
	unread  bool // an unread-count frame was pushed
}

// newListener returns a listener whose signal is set, so that what it is
// given before it is served gets written first.
func newListener(topics, kinds []string, size int) *listener {
	l := &listener{topics: topics, kinds: kinds, signal: make(chan struct{}, 1), max: size, size: size}
	l.wake()
	return l
}

// push queues f, or cuts the listener off if its queue is full. It never
// blocks.
func (l *listener) push(f *frame) {
	l.mu.Lock()
	l.enqueue(f)
	l.mu.Unlock()
	l.wake()
}

// pushUnread queues the unread count sent at connect, unless a newer one
// was pushed meanwhile.
func (l *listener) pushUnread(f *frame) {
	l.mu.Lock()
	if !l.unread {
		l.enqueue(f)
	}
	l.mu.Unlock()
	l.wake()
}

func (l *listener) enqueue(f *frame) {
	switch {
	case l.evicted:
	case len(l.queue) >= l.max:
		l.evicted = true
		clear(l.queue)
		l.queue = l.queue[:0]
	default:
		l.queue = append(l.queue, f)
		l.unread = l.unread || f.unread
	}
}

func (l *listener) wake() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// replay queues the history a listener resumes with; being bounded by the
// history, it may exceed the queue size.
func (l *listener) replay(events []entry) {
	for _, e := range events {
		if slices.Contains(l.topics, e.topic) {
			l.queue = append(l.queue, e.f)
		}
	}
	l.max = len(l.queue) + l.size
}

// take returns the queued frames and whether the listener is cut off. The
// queue goes on in spare, an empty slice the caller is done with.
func (l *listener) take(spare []*frame) ([]*frame, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue
	l.queue = spare[:0]
	l.max = l.size
	return q, l.evicted
}

// appendBatch appends frames to dst, sorting each run of frames with ids by
// position; frames without id stay where they were, after what came before
// them. A frame with an id lower than one already sent goes without its id
// line, so the client's resume point never moves back; a frame the client
// had before it resumed is left out. It returns dst and the frames it
// appended, which it keeps at the front of frames, in their order.
func (l *listener) appendBatch(dst []byte, frames []*frame) ([]byte, []*frame) {
	for i := 0; i < len(frames); {
		j := i
		for j < len(frames) && frames[j].ts != 0 {
			j++
		}
		slices.SortStableFunc(frames[i:j], func(a, b *frame) int { return cmp.Compare(a.ts, b.ts) })
		i = j + 1
	}
	n := 0
	for _, f := range frames {
		switch {
		case f.ts == 0:
			dst = append(dst, f.full...)
		case f.ts <= l.floor:
			continue
		case f.ts <= l.sent:
			dst = append(dst, f.bare...)
		default:
			dst = append(dst, f.full...)
			l.sent = f.ts
		}
		frames[n] = f
		n++
	}
	return dst, frames[:n]
}
