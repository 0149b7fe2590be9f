package fanout

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Listener is one open stream. The hub pushes frames into its queue without
// ever waiting, then writes them straight to its socket if it takes them at
// once (see Hub.flushLoop); otherwise the goroutine that serves it takes
// them and writes them.
type Listener struct {
	topics []string
	kinds  []string      // the kinds its topics count under
	signal chan struct{} // capacity 1: a push may have happened since the last take
	dirty  bool          // pushed to and not yet flushed; guarded by the hub's lock

	// wmu is held by whoever writes to the client, the serving goroutine or
	// the hub, and guards what follows it; the hub sets floor, sent and
	// replays before serving begins.
	wmu     sync.Mutex
	floor   []Position // the id it resumed from: it has every event up to it
	sent    []Position // the id it was last told, by source
	replays int        // frames at the front of the queue that are replayed
	raw     *rawConn   // its socket, while the hub may write to it
	spare   []*Frame   // an empty slice for the next take
	events  int        // frames written, heartbeats aside
	// pending is a batch the socket took only up to pendingAt: the
	// goroutine writes the rest before anything else.
	pending   batch
	pendingAt int

	mu      sync.Mutex
	queue   []*Frame
	max     int      // queue length at which it is cut off
	size    int      // max after the first take
	evicted bool     // it fell behind and is cut off
	keys    []string // state keys pushed to it
}

// newListener returns a listener whose signal is set, so that what it is
// given before it is served gets written first.
func newListener(topics, kinds []string, size, sources int) *Listener {
	l := &Listener{
		topics: topics, kinds: kinds, signal: make(chan struct{}, 1), max: size, size: size,
		floor: make([]Position, sources), sent: make([]Position, sources),
	}
	l.wake()
	return l
}

// Topics returns the topics l listens to.
func (l *Listener) Topics() []string {
	return l.topics
}

// listensToAny reports whether l listens to any of topics.
func (l *Listener) listensToAny(topics []string) bool {
	for _, t := range topics {
		if slices.Contains(l.topics, t) {
			return true
		}
	}
	return false
}

// push queues f, or cuts the listener off if its queue is full. It never
// blocks. The caller then marks l dirty.
func (l *Listener) push(f *Frame) {
	l.mu.Lock()
	l.enqueue(f)
	if f.key != "" && !slices.Contains(l.keys, f.key) {
		l.keys = append(l.keys, f.key)
	}
	l.mu.Unlock()
}

// PushFirst queues f, a state frame that the listener gets when it opens
// (a count, a snapshot), unless a newer frame of its key was pushed to it
// since it registered.
func (l *Listener) PushFirst(f *Frame) {
	l.mu.Lock()
	if !slices.Contains(l.keys, f.key) {
		l.enqueue(f)
	}
	l.mu.Unlock()
	l.wake()
}

func (l *Listener) enqueue(f *Frame) {
	switch {
	case l.evicted:
	case len(l.queue) >= l.max:
		l.evicted = true
		clear(l.queue)
		l.queue = l.queue[:0]
	default:
		l.queue = append(l.queue, f)
	}
}

func (l *Listener) wake() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// replay queues the history a listener resumes with, in the order of
// their times: the history has each source's events in order, but one
// source's may have been published late, behind another's. Their ids say
// how far the hub had got in every source when they were published, which
// holds in publish order only, so replayed frames go with ids of their
// own: see appendBatch. Being bounded by the history, the replay may exceed
// the queue size.
func (l *Listener) replay(events []entry) {
	for _, e := range events {
		if l.floor[e.f.src].Less(e.f.pos) && l.listensToAny(e.topics) {
			l.queue = append(l.queue, e.f)
		}
	}
	slices.SortStableFunc(l.queue, func(a, b *Frame) int { return cmp.Compare(a.pos.Time, b.pos.Time) })
	l.replays = len(l.queue)
	l.max = len(l.queue) + l.size
}

// take returns the queued frames and whether the listener is cut off. The
// queue goes on in spare, an empty slice the caller is done with.
func (l *Listener) take(spare []*Frame) ([]*Frame, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue
	l.queue = spare[:0]
	l.max = l.size
	return q, l.evicted
}

// batches holds the buffers that streams build their write batches in.
var batches = sync.Pool{New: func() any {
	b := make([]byte, 0, 4<<10)
	return &b
}}

// maxKeptBuffer is the largest batch buffer that goes back to the pool for
// the next batch.
const maxKeptBuffer = 64 << 10

// batch is what a listener's writer takes from its queue at once: the
// frames, and the bytes of those it writes, built in a pooled buffer so
// that a listener holds none while it waits, which is most of the time.
type batch struct {
	bp      *[]byte  // the pooled buffer buf was built in
	buf     []byte   // what to write
	frames  []*Frame // the frames taken, those written first
	written []*Frame // the frames buf carries
}

// takeBatch takes the queued frames and builds their batch, or reports
// false if the listener is cut off. The caller holds wmu.
func (l *Listener) takeBatch() (batch, bool) {
	frames, evicted := l.take(l.spare)
	l.spare = nil
	if evicted {
		return batch{}, false
	}
	bp := batches.Get().(*[]byte)
	buf, written := l.appendBatch((*bp)[:0], frames)
	return batch{bp: bp, buf: buf, frames: frames, written: written}, true
}

// delivered records that b was written to the client at now, and recycles it.
func (l *Listener) delivered(b batch, m *metrics, now time.Time) {
	m.written(b.written, now)
	l.events += len(b.written)
	l.recycle(b)
}

// recycle puts b's buffer back in the pool and keeps its frames' slice for
// the next take.
func (l *Listener) recycle(b batch) {
	if cap(b.buf) <= maxKeptBuffer {
		*b.bp = b.buf[:0]
		batches.Put(b.bp)
	}
	clear(b.frames)
	l.spare = b.frames[:0]
}

// appendBatch appends frames to dst in their order. A frame the client had
// before it resumed is left out. A frame whose id is at or after what the
// client was told in every source goes as it is; otherwise, which happens
// when this instance is behind the one the client came from in some
// source, it goes with the id that combines both, so that the client's
// resume point never moves back in any source. It returns dst and the
// frames it appended, which it keeps at the front of frames, in their order.
func (l *Listener) appendBatch(dst []byte, frames []*Frame) ([]byte, []*Frame) {
	n := 0
	for _, f := range frames {
		replay := l.replays > 0
		if replay {
			l.replays--
		}
		switch {
		case replay:
			// What the client has now: what it had, and this frame.
			l.sent[f.src] = maxPos(l.sent[f.src], f.pos)
			dst = appendIDLine(dst, l.sent)
			dst = append(dst, f.bare...)
		case f.src < 0:
			dst = append(dst, f.full...)
		case !l.floor[f.src].Less(f.pos):
			continue
		case covers(f.vec, l.sent):
			dst = append(dst, f.full...)
			copy(l.sent, f.vec)
		default:
			raise(l.sent, f.vec)
			dst = appendIDLine(dst, l.sent)
			dst = append(dst, f.bare...)
		}
		frames[n] = f
		n++
	}
	return dst, frames[:n]
}
