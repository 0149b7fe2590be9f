// Package fanout is a generic engine that fans events out to server-sent
// event streams: a registry of listeners by topic, bounded per-listener
// queues, a history for clients that resume, the SSE wire format and the
// write path to the connection. Events come from a fixed number of
// sources, each with its own order; an event id carries a position for
// each, so that a client resumes exactly in every source however far apart
// the sources are. The engine knows nothing of what events mean.
package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Reasons a client is sent a reset, as it reads them in the event's data.
const (
	ResetMalformed = "malformed id"
	ResetUnknown   = "unknown id"
	ResetExpired   = "expired id"
)

// Options tune a Hub. Zero fields take their defaults.
type Options struct {
	// Start is, for each source, the position after which the hub will see
	// every event: the history starts there. Its length is the number of
	// sources, at most 64.
	Start []Position
	// History is how long events are kept for clients that resume: 15m.
	History time.Duration
	// HistoryEvents is how many events are kept at most: 50000.
	HistoryEvents int
	// HistoryBytes is how much memory kept events may take, about: 64 MiB.
	HistoryBytes int
	// Heartbeat is how often a quiet stream is sent its resume point: 15s.
	Heartbeat time.Duration
	// MaxStreams is how many streams may be open at once: 10000.
	MaxStreams int
	// QueueSize is how many frames a listener may fall behind before it is
	// cut off: 256.
	QueueSize int
	// WriteTimeout is how long one write to a client may take: 10s.
	WriteTimeout time.Duration
	// Resets are the reasons of resets given to Reset, so that their
	// counters are exported from the start.
	Resets []string
	// Future reports whether a position a client resumes from cannot have
	// happened yet; such an id gets a reset. Nil: none can.
	Future func(src int, p Position) bool
	// CatchUp is how long a stream whose id is ahead of the hub in some
	// source, as an id from an instance that has read further can be,
	// waits for the hub to get there before it gets a reset instead: 5s.
	CatchUp time.Duration
	// Listeners, if not nil, is told the new number of listeners of a
	// topic each time a stream joins or leaves it, however it leaves
	// (gone, evicted, timed out, kicked, shut down). It is called under
	// the hub's lock, so that the numbers come in the order they happened:
	// it must be quick and must not call the hub.
	Listeners func(topic string, n int)
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.History, 15*time.Minute)
	def(&o.Heartbeat, 15*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.CatchUp, 5*time.Second)
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&o.HistoryEvents, 50000)
	defInt(&o.HistoryBytes, 64<<20)
	defInt(&o.MaxStreams, 10000)
	defInt(&o.QueueSize, 256)
	if o.Future == nil {
		o.Future = func(int, Position) bool { return false }
	}
	return o
}

// Hub holds the listeners of every topic and the recent events. Publishing
// an event, and registering a listener with the events it missed, happen
// under one lock: that is what gives each listener every event once.
type Hub struct {
	log     *slog.Logger
	opts    Options
	metrics *metrics

	serving  sync.WaitGroup // open streams
	flushing sync.WaitGroup // the running flushLoop, if any

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
	kick   chan struct{} // closed by Kick, then replaced
	topics map[string]map[*Listener]struct{}
	counts map[string]int // open streams by kind
	open   int
	hist   history
	pos    []Position // the newest position of each source
	// moved, while streams wait for the hub to catch up with their ids, is
	// closed when a position moves on, then cleared.
	moved chan struct{}
	// unflushed are the listeners marked dirty, for flushLoop to hand on
	// what was pushed to them; flushRunning tells that it runs.
	unflushed    []*Listener
	flushRunning bool
}

// New returns a hub for len(opts.Start) sources.
func New(log *slog.Logger, opts Options) *Hub {
	if n := len(opts.Start); n == 0 || n > 64 {
		panic(fmt.Sprintf("fanout: %d sources, want 1 to 64", n))
	}
	opts = opts.withDefaults()
	return &Hub{
		log:     log,
		opts:    opts,
		metrics: newMetrics(opts.Resets),
		done:    make(chan struct{}),
		kick:    make(chan struct{}),
		topics:  map[string]map[*Listener]struct{}{},
		counts:  map[string]int{},
		hist:    newHistory(append([]Position(nil), opts.Start...)),
		pos:     append([]Position(nil), opts.Start...),
	}
}

// Publish records that source src reached pos with an event, keeps the
// event in the history and hands it to the listeners of topics, each
// listener once however many of them it listens to: the event is one, with
// one id, on all of them. The event's id is the hub's position in every
// source, src's being pos. Positions of a source must be published in
// order; one at or before the source's newest is ignored. at is when the
// event happened, or zero. The hub keeps topics.
func (h *Hub) Publish(src int, pos Position, topics []string, event string, data []byte, at time.Time) {
	h.mu.Lock()
	if !h.pos[src].Less(pos) {
		h.mu.Unlock()
		return
	}
	h.pos[src] = pos
	h.wake()
	f := newEvent(src, pos, append([]Position(nil), h.pos...), event, data, at)
	if at.IsZero() {
		at = time.Now()
	}
	h.hist.add(entry{topics: topics, f: f, at: at})
	for i, t := range topics {
		for l := range h.topics[t] {
			// A listener of an earlier topic of the event has it.
			if i == 0 || !l.listensToAny(topics[:i]) {
				l.push(f)
				h.dirty(l)
			}
		}
	}
	if h.hist.len() > h.opts.HistoryEvents || h.hist.bytes > h.opts.HistoryBytes {
		h.trim(time.Time{})
	}
	h.mu.Unlock()
}

// Advance records that source src reached pos without an event for anyone.
func (h *Hub) Advance(src int, pos Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos[src] = maxPos(h.pos[src], pos)
	h.wake()
}

// wake tells the streams waiting for the hub to catch up that a position
// has moved on.
func (h *Hub) wake() {
	if h.moved != nil {
		close(h.moved)
		h.moved = nil
	}
}

// catchUp waits, for at most CatchUp, until the hub has got as far in
// every source as the id a client resumes from: the id may come from an
// instance that has read further than this one, and taking it before this
// one gets there would skip what lies between. It waits without the lock,
// and register then decides under it. It returns false if ctx ends first.
func (h *Hub) catchUp(ctx context.Context, id string) bool {
	v, ok := parseID(id, len(h.pos))
	if !ok {
		return true
	}
	for src, p := range v {
		if h.opts.Future(src, p) {
			return true
		}
	}
	timeout := time.NewTimer(h.opts.CatchUp)
	defer timeout.Stop()
	counted := false
	defer func() {
		if counted {
			h.metrics.catchUp.Dec()
		}
	}()
	for {
		h.mu.Lock()
		if h.closed || covers(h.pos, v) {
			h.mu.Unlock()
			return true
		}
		if h.moved == nil {
			h.moved = make(chan struct{})
		}
		moved := h.moved
		h.mu.Unlock()
		if !counted {
			counted = true
			h.metrics.catchUp.Inc()
		}
		select {
		case <-moved:
		case <-timeout.C:
			return true
		case <-h.done:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

// Send hands f, a frame without id, to the listeners of topic without
// keeping it.
func (h *Hub) Send(topic string, f *Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.topics[topic] {
		l.push(f)
		h.dirty(l)
	}
}

// Listened reports whether topic has listeners.
func (h *Hub) Listened(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics[topic]) > 0
}

// Reset records that source src's events up to start are gone: the history
// of src starts there, and the listeners of the topics that match are
// sent a reset with reason, after which they should reload what they show.
func (h *Hub) Reset(src int, start Position, match func(topic string) bool, reason string) {
	f := resetFrame(reason)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hist.start[src] = maxPos(h.hist.start[src], start)
	h.pos[src] = maxPos(h.pos[src], start)
	h.wake()
	n := 0
	for topic, ls := range h.topics {
		if match(topic) {
			for l := range ls {
				l.push(f)
				h.dirty(l)
			}
			n += len(ls)
		}
	}
	h.metrics.reset(reason, n)
}

// Trim drops the events older than the history keeps.
func (h *Hub) Trim(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trim(now)
}

func (h *Hub) trim(now time.Time) {
	var cut time.Time
	if !now.IsZero() {
		cut = now.Add(-h.opts.History)
	}
	h.hist.trim(cut, h.opts.HistoryEvents, h.opts.HistoryBytes)
}

// Kept returns how many events the history holds and what they cost in
// memory, about.
func (h *Hub) Kept() (events, bytes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hist.len(), h.hist.bytes
}

// LastEventID returns the id of the hub's newest position in every source.
// A page that takes it before it reads what it shows, and opens its event
// stream with it, misses no event in between.
func (h *Hub) LastEventID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(appendID(nil, h.pos))
}

// positionInto copies the hub's newest positions into v.
func (h *Hub) positionInto(v []Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	copy(v, h.pos)
}

// Counts returns how many streams are open by kind; a stream counts once
// in each kind it listens to.
func (h *Hub) Counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.counts))
	for k, n := range h.counts {
		m[k] = n
	}
	return m
}

// Kick sends every open stream a jittered retry delay and closes it, so
// that its client goes to another instance; the hub goes on taking new
// streams.
func (h *Hub) Kick() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.kick)
	h.kick = make(chan struct{})
}

// Close sends every open stream a retry delay and closes it, and refuses
// new ones. Wait then waits for them to end.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// Wait waits until every stream has ended, and what was published has
// been handed on.
func (h *Hub) Wait() {
	h.serving.Wait()
	h.flushing.Wait()
}

// register adds l to the listeners of its topics and queues what it missed
// after the id it resumes from, if any, in one step with respect to
// Publish, so that it gets every event once. If l may not listen now, it
// returns the retry frame to answer with instead. It returns the channel
// that Kick closes.
func (h *Hub) register(l *Listener, id string, resume bool) ([]byte, chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return RetryFrame(time.Second, 5*time.Second), nil
	case h.open >= h.opts.MaxStreams:
		return RetryFrame(busyRetry, 3*busyRetry), nil
	}
	copy(l.sent, h.pos)
	if resume {
		if v, reason := h.resumePoint(id); reason != "" {
			l.queue = append(l.queue, resetFrame(reason))
			h.metrics.reset(reason, 1)
		} else {
			copy(l.floor, v)
			copy(l.sent, v)
			l.replay(h.hist.after(v))
			h.metrics.resumes.Inc()
		}
	}
	for _, t := range l.topics {
		if h.topics[t] == nil {
			h.topics[t] = map[*Listener]struct{}{}
		}
		h.topics[t][l] = struct{}{}
		h.listeners(t)
	}
	for _, k := range l.kinds {
		h.counts[k]++
	}
	h.open++
	h.serving.Add(1)
	return nil, h.kick
}

// resumePoint returns the vector of an id, or why there is none.
func (h *Hub) resumePoint(id string) ([]Position, string) {
	v, ok := parseID(id, len(h.pos))
	if !ok {
		return nil, ResetMalformed
	}
	for src, p := range v {
		if h.opts.Future(src, p) {
			return nil, ResetUnknown
		}
	}
	if !covers(h.pos, v) {
		// The hub did not get as far as the id within CatchUp: it cannot
		// tell what came between.
		return nil, ResetUnknown
	}
	for src, p := range v {
		if p.Less(h.hist.start[src]) {
			return nil, ResetExpired
		}
	}
	return v, ""
}

// unregister removes l.
func (h *Hub) unregister(l *Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range l.topics {
		delete(h.topics[t], l)
		if len(h.topics[t]) == 0 {
			delete(h.topics, t)
		}
		h.listeners(t)
	}
	for _, k := range l.kinds {
		if h.counts[k]--; h.counts[k] == 0 {
			delete(h.counts, k)
		}
	}
	h.open--
	h.serving.Done()
}

// listeners tells Options.Listeners how many listeners topic has now.
func (h *Hub) listeners(topic string) {
	if h.opts.Listeners != nil {
		h.opts.Listeners(topic, len(h.topics[topic]))
	}
}

// lastEventID returns the id a client resumes from, if any.
func lastEventID(r *http.Request) (string, bool) {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id, true
	}
	id := r.URL.Query().Get("lastEventId")
	return id, id != ""
}

// resetFrame tells a client that it may have missed events and should reload
// what it shows.
func resetFrame(reason string) *Frame {
	return NewFrame("reset", []byte(`{"reason":"`+reason+`"}`))
}
