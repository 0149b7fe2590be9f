package fanout

import (
	"net"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// flushShare is how many listeners one goroutine writes to, at least,
// when the hub writes events to its listeners' sockets: below it, starting
// another costs more than it saves.
const flushShare = 256

// dirty marks l as having frames pushed to it that are not yet handed on to
// its client, and starts the flush if none is running. Once the hub is
// closed its streams are going: none starts, so that Wait does not race
// with a new one. The caller holds h.mu.
func (h *Hub) dirty(l *Listener) {
	if !l.dirty {
		l.dirty = true
		h.unflushed = append(h.unflushed, l)
	}
	if !h.flushRunning && !h.closed {
		h.flushRunning = true
		h.flushing.Add(1)
		go h.flushLoop()
	}
}

// flushLoop hands on what was pushed to the listeners marked dirty, round
// after round, until a round finds none; it ends then, and the next push
// starts another. Each round writes straight to each socket that takes it
// without waiting, on up to one goroutine per processor, and otherwise
// wakes the stream's goroutine to write it (see Listener.flush). Most
// streams are idle and their sockets have room, so an event costs one
// write system call per listener and no goroutine switch: waking each
// stream's goroutine was most of a delivery's CPU time besides the write.
// Publish does not wait for it: while a round is writing, the next events
// are queued, and a listener that a round reaches late gets them all in
// one write, so that a busy server does less work per event rather than
// falling further behind. The listeners come in the order of the hub's
// maps, which Go starts at a random place for each event, so that no
// listener is always last.
func (h *Hub) flushLoop() {
	defer h.flushing.Done()
	var round []*Listener
	for {
		h.mu.Lock()
		round, h.unflushed = h.unflushed, round[:0]
		for _, l := range round {
			l.dirty = false
		}
		if len(round) == 0 {
			h.flushRunning = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		workers := min(runtime.GOMAXPROCS(0), len(round)/flushShare)
		if workers <= 1 {
			h.flushEach(round)
		} else {
			var wg sync.WaitGroup
			parts := slices.Collect(slices.Chunk(round, (len(round)+workers-1)/workers))
			for _, part := range parts[1:] {
				wg.Go(func() { h.flushEach(part) })
			}
			h.flushEach(parts[0])
			wg.Wait()
		}
		clear(round)
	}
}

func (h *Hub) flushEach(ls []*Listener) {
	for _, l := range ls {
		l.flush(h.metrics)
	}
}

// rawConn writes to a socket without waiting.
type rawConn struct {
	rc syscall.RawConn
	b  []byte // what write writes
	n  int    // what it wrote
	// do is the write, made once: a closure made per write would be an
	// allocation per delivery.
	do func(fd uintptr) bool
}

// newRawConn returns c's socket, or nil if c has none of its own (a TLS
// connection).
func newRawConn(c net.Conn) *rawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawConn{rc: rc}
	r.do = func(fd uintptr) bool {
		// A write to a socket that does not block returns at once, so it
		// is made without telling the scheduler, which would otherwise
		// hand the processor off and have its monitor thread wake every
		// few microseconds to look at it: about a twentieth of the CPU
		// time of a fan-out.
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.b))), uintptr(len(r.b)))
		if errno != 0 {
			// EAGAIN, the socket is full, or the connection failed: the
			// stream's goroutine writes what is left, waiting as a write
			// does, and meets the error if there is one.
			n = 0
		}
		r.n = int(n)
		// Done: RawWrite would otherwise wait for the socket and try again.
		return true
	}
	return r
}

// write writes what of b the socket takes at once, and returns how much
// that was.
func (r *rawConn) write(b []byte) int {
	r.b, r.n = b, 0
	// The error is that the connection is closed: nothing was written.
	r.rc.Write(r.do)
	r.b = nil
	return r.n
}

// flush writes l's queued frames straight to its socket if it can, or
// wakes its goroutine to do it: when the goroutine is writing, when its
// client is not on a socket of its own (HTTP/2, TLS), or when the socket
// does not take all of it at once, the rest of which the goroutine writes.
func (l *Listener) flush(m *metrics) {
	if !l.wmu.TryLock() {
		// Its goroutine, or another event's flush, is writing: a wake-up
		// has it take the queue again once done.
		l.wake()
		return
	}
	defer l.wmu.Unlock()
	if l.raw == nil || l.pending.bp != nil {
		l.wake()
		return
	}
	b, ok := l.takeBatch()
	if !ok {
		l.wake()
		return
	}
	if len(b.buf) == 0 {
		l.recycle(b)
		return
	}
	now := time.Now()
	if n := l.raw.write(b.buf); n < len(b.buf) {
		l.pending, l.pendingAt = b, n
		l.wake()
		return
	}
	l.delivered(b, m, now)
}
