package fanout

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Subscription is what a stream listens to.
type Subscription struct {
	// Topics are the topics, without repeats.
	Topics []string
	// Kinds are what the stream counts as in Counts and its log lines;
	// they must tell nothing private (no user ids).
	Kinds []string
	// First, if not nil, is called once the stream is registered and has
	// written its resume point, on the stream's goroutine, to queue what a
	// new listener gets first (counts, snapshots) with PushFirst.
	First func(ctx context.Context, l *Listener)
	// Ended, if not nil, is called once when the stream is over: when it
	// has closed, or at once when it is refused or its client leaves
	// before it opens. Serve may return before it is called.
	Ended func()
}

func (sub Subscription) end() {
	if sub.Ended != nil {
		sub.Ended()
	}
}

// Why a stream closed, as its log line says.
const (
	closeClientGone  = "client gone"
	closeWriteFailed = "write failed"
	closeEvicted     = "evicted"
	closeShutdown    = "shutdown"
	closeKicked      = "sent away"
)

// Serve streams the events of sub's topics to the client until it goes,
// falls behind, or the hub closes or kicks it. The caller has checked that
// the client may listen to them. A client that sends Last-Event-ID, or the
// lastEventId query parameter, first gets every event of its topics after
// that id; if the hub cannot tell what came after it, the client gets a
// reset event. An id ahead of the hub waits, up to CatchUp, for the hub to
// get there. Serve returns when the stream ends, except that an HTTP/1.x
// stream takes its connection over from net/http and carries on in a
// goroutine of its own, which Wait waits for.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sub Subscription) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	s := &stream{hub: h, w: w, rc: http.NewResponseController(w), l: newListener(sub.Topics, sub.Kinds, h.opts.QueueSize, len(h.pos)), first: sub.First}
	id, resume := lastEventID(r)
	if resume && !h.catchUp(r.Context(), id) {
		sub.end()
		return
	}
	refusal, kick := h.register(s.l, id, resume)
	if refusal != nil {
		s.write(refusal)
		sub.end()
		return
	}
	release := func() {
		h.unregister(s.l)
		sub.end()
	}
	s.kick = kick
	if r.ProtoMajor == 1 {
		// net/http cancels the request's context when the handler returns.
		ctx, done, err := s.hijack(context.WithoutCancel(r.Context()))
		switch {
		case err == nil:
			// The handler returns, and with it net/http's goroutine, its
			// stack and the connection's buffers, which would otherwise be
			// most of an open stream's memory. The connection is closed
			// before unregister, so before Wait returns: http.Server's
			// Shutdown does not track hijacked connections.
			go func() {
				defer release()
				defer done()
				// Out of net/http's hands, a panic would otherwise take the
				// whole server down rather than this one stream.
				defer func() {
					if p := recover(); p != nil {
						h.log.Error("stream panicked", "panic", p, "stack", string(debug.Stack()))
					}
				}()
				s.serve(ctx, sub.Kinds)
			}()
			return
		case !errors.Is(err, http.ErrNotSupported):
			release()
			h.log.Warn("take over stream connection", "error", err)
			return
		}
	}
	defer release()
	w.WriteHeader(http.StatusOK)
	s.serve(r.Context(), sub.Kinds)
}

// Refuse answers a stream request with a jittered retry delay in [lo, hi)
// instead of events.
func Refuse(w http.ResponseWriter, lo, hi time.Duration) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.Write(RetryFrame(lo, hi))
}

// busyRetry is the shortest retry delay of a stream refused because the
// hub, or a caller's limit, is full: the delay runs to three times it, so
// that refused clients come back spread out.
const busyRetry = 10 * time.Second

// RefuseBusy answers a stream request as one over MaxStreams is answered,
// for callers that keep limits of their own.
func RefuseBusy(w http.ResponseWriter) {
	Refuse(w, busyRetry, 3*busyRetry)
}

// serve runs the stream, logging its opening and closing.
func (s *stream) serve(ctx context.Context, kinds []string) {
	log := s.hub.log.With("topics", strings.Join(kinds, ","))
	log.Info("stream opened")
	opened := time.Now()
	reason, err := s.run(ctx)
	level, attrs := slog.LevelInfo, []any{"reason", reason, "duration", time.Since(opened), "events", s.l.events}
	if reason == closeEvicted || reason == closeKicked {
		level = slog.LevelWarn
	}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	log.Log(ctx, level, "stream closed", attrs...)
}

// stream writes a listener's frames to its client.
type stream struct {
	hub   *Hub
	w     http.ResponseWriter
	rc    *http.ResponseController
	l     *Listener
	first func(ctx context.Context, l *Listener)
	kick  chan struct{}
	// conn is the client's connection once the stream has taken it over
	// from net/http, and frames are written to it rather than to w.
	conn net.Conn
	// head is the response head yet to be written to conn: it goes out
	// with the first frame, in one write.
	head []byte
	// deadline is the write deadline set on w.
	deadline time.Time
}

// run writes the client's resume point, then queued frames as they come,
// and a heartbeat when the stream is quiet, until the client goes, falls
// behind, or the hub closes or kicks it. It returns why it stopped, and
// the write error if one stopped it. Once the first frame is written, the
// hub may write to the client's socket itself; run holds the listener's
// write lock whenever it writes.
func (s *stream) run(ctx context.Context) (string, error) {
	l := s.l
	// The first frame is the client's resume point, so that even a client
	// that gets no event before it reconnects resumes without a gap.
	l.wmu.Lock()
	err := s.write(appendHeartbeat(s.head, l.sent))
	s.head = nil
	if err == nil && s.conn != nil {
		l.raw = newRawConn(s.conn)
	}
	l.wmu.Unlock()
	defer func() {
		l.wmu.Lock()
		l.raw = nil
		l.wmu.Unlock()
	}()
	if err != nil {
		return closeWriteFailed, err
	}
	if s.first != nil {
		s.first(ctx, l)
	}
	beat := time.NewTicker(s.hub.opts.Heartbeat)
	defer beat.Stop()
	var pos []Position
	for {
		heartbeat := false
		select {
		case <-l.signal:
		case <-beat.C:
			heartbeat = true
		case <-ctx.Done():
			return closeClientGone, nil
		case <-s.hub.done:
			s.writeLocked(RetryFrame(time.Second, 5*time.Second))
			return closeShutdown, nil
		case <-s.kick:
			s.writeLocked(RetryFrame(time.Second, 10*time.Second))
			return closeKicked, nil
		}
		if heartbeat {
			if pos == nil {
				pos = make([]Position, len(l.sent))
			}
			s.hub.positionInto(pos)
		}
		l.wmu.Lock()
		reason, err := s.flush(heartbeat, pos)
		l.wmu.Unlock()
		if reason != "" {
			return reason, err
		}
	}
}

// flush writes, waiting as long as the write timeout allows, what the hub
// left unwritten, then the queued frames, and a heartbeat with the
// positions pos if heartbeat is set. It returns why the stream must stop,
// if it must, and the write error if that is why. The caller holds the
// write lock.
func (s *stream) flush(heartbeat bool, pos []Position) (string, error) {
	l := s.l
	if p := l.pending; p.bp != nil {
		now := time.Now()
		if err := s.writeAt(now, p.buf[l.pendingAt:]); err != nil {
			return closeWriteFailed, err
		}
		l.pending = batch{}
		l.delivered(p, s.hub.metrics, now)
	}
	b, ok := l.takeBatch()
	if !ok {
		s.hub.metrics.evicted.Inc()
		return closeEvicted, nil
	}
	if heartbeat {
		raise(l.sent, pos)
		b.buf = appendHeartbeat(b.buf, l.sent)
	}
	if len(b.buf) == 0 {
		l.recycle(b)
		return "", nil
	}
	// One clock reading sets the deadline and dates the delivery: the
	// clock costs more than the metrics.
	now := time.Now()
	if err := s.writeAt(now, b.buf); err != nil {
		return closeWriteFailed, err
	}
	l.delivered(b, s.hub.metrics, now)
	return "", nil
}

// hijack takes an HTTP/1.x connection over from net/http. Writing frames
// straight to the connection skips net/http's buffers, chunked encoding and
// flushes, about a fifth of a delivery's CPU time on loopback, and frees its
// response buffer. The body has no framing: it ends when the
// connection closes, which the head announces. The returned context ends
// when the client goes or sends anything, since net/http no longer watches
// the connection; done closes the connection and waits for the watch to
// end. The response head is left for run to write with the first frame.
// The error is http.ErrNotSupported if w cannot be taken over.
func (s *stream) hijack(ctx context.Context) (context.Context, func(), error) {
	conn, rw, err := s.rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The server's timeouts may have left deadlines on the connection;
	// writes set their own, and the watch below must wait for good.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	// An event-stream client sends nothing after its request: bytes it has
	// sent since are not a request this connection will answer, so, like
	// bytes that come later, they end the stream.
	if rw.Reader.Buffered() > 0 {
		cancel()
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		defer cancel()
		conn.Read(make([]byte, 1))
	}()
	done := func() {
		conn.Close()
		<-watched
	}
	s.conn = conn
	s.head = appendHead(nil, s.w.Header())
	// net/http's response, and with it the connection's buffers and the
	// request, are garbage from here: holding them was about a third of an
	// open stream's memory.
	s.w, s.rc = nil, nil
	return ctx, done, nil
}

// appendHead appends the head of a stream's response with header h to b.
func appendHead(b []byte, h http.Header) []byte {
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h.Write(&head)
	head.WriteString("Connection: close\r\n\r\n")
	return append(b, head.Bytes()...)
}

// write writes b in one write and flushes it, within the write timeout.
func (s *stream) write(b []byte) error {
	return s.writeAt(time.Now(), b)
}

// writeLocked is write under the listener's write lock.
func (s *stream) writeLocked(b []byte) error {
	s.l.wmu.Lock()
	defer s.l.wmu.Unlock()
	return s.write(b)
}

// writeAt is write at time now. On a connection taken over, the deadline
// bounds this write and is lifted after it, so that the hub's writes,
// which never wait, do not run into it. On w, it is moved only once less
// than half the write timeout is left, which bounds every write by the
// timeout without resetting the connection's timer on each delivery.
func (s *stream) writeAt(now time.Time, b []byte) error {
	if s.conn != nil {
		if err := s.conn.SetWriteDeadline(now.Add(s.hub.opts.WriteTimeout)); err != nil {
			return err
		}
		if _, err := s.conn.Write(b); err != nil {
			return err
		}
		return s.conn.SetWriteDeadline(time.Time{})
	}
	if s.deadline.Sub(now) < s.hub.opts.WriteTimeout/2 {
		s.deadline = now.Add(s.hub.opts.WriteTimeout)
		if err := s.rc.SetWriteDeadline(s.deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	if len(b) > 0 {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}
