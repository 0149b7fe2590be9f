package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// streamClient opens event streams to one URL.
type streamClient struct {
	url    *url.URL
	http   *http.Client // for https, where the stream stays with net/http
	dialer net.Dialer
}

// openStream is a stream whose handshake is over.
type openStream struct {
	body     io.ReadCloser
	conn     net.Conn // the plain TCP connection body reads, or nil
	buffered []byte   // what arrived of the stream with its head
}

// open sends the stream request and checks that the answer is an event
// stream of unknown length. A stream the server refuses also looks like one
// until it ends; run tells them apart by when they end. Over plain HTTP the
// request is written and the head read by hand on a connection of its own,
// which the poller then reads: net/http would read each stream on a
// goroutine of its own, whose wake-ups were a third of the load
// generator's CPU time besides the read itself.
func (c *streamClient) open(ctx context.Context) (*openStream, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if c.url.Scheme != "http" {
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		if err := checkStream(resp); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return &openStream{body: resp.Body}, nil
	}
	conn, err := c.dialer.DialContext(ctx, "tcp", canonicalHost(c.url))
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	st, err := handshake(conn, req)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return st, nil
}

// handshake writes req on conn and reads the answer's head.
func handshake(conn net.Conn, req *http.Request) (*openStream, error) {
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	if err := checkStream(resp); err != nil {
		return nil, err
	}
	if len(resp.TransferEncoding) > 0 {
		return nil, fmt.Errorf("a %v body: streams here end with their connection", resp.TransferEncoding)
	}
	buffered, _ := br.Peek(br.Buffered())
	return &openStream{body: conn, conn: conn, buffered: buffered}, nil
}

// checkStream checks that resp is an event stream of unknown length.
func checkStream(resp *http.Response) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", resp.StatusCode)
	case mt != "text/event-stream":
		return fmt.Errorf("content type %q", mt)
	case resp.ContentLength >= 0:
		return fmt.Errorf("a body of %d bytes, not a live stream", resp.ContentLength)
	}
	return nil
}

// canonicalHost returns u's host with its port, the default one if u has
// none.
func canonicalHost(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// poller reads many streams' sockets with epoll on one goroutine per
// processor, each of which owns the subscribers whose sockets it reads.
type poller struct {
	sets []*pollSet
	next int // the set the next stream goes to
	mu   sync.Mutex
	wg   sync.WaitGroup
}

// pollSet is one epoll instance and the streams it watches.
type pollSet struct {
	fd   int
	mu   sync.Mutex
	subs map[int32]*subscriber // by the descriptor, a copy of its own, that the set reads
}

// pollTimeout is how often a poll set looks at whether the run is over.
const pollTimeout = 50 * time.Millisecond

// newPoller starts n poll sets, which read until ctx ends; Wait waits for
// them to stop, once ctx has ended.
func newPoller(ctx context.Context, n int) (*poller, error) {
	p := &poller{}
	for range n {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			p.closeSets()
			return nil, fmt.Errorf("epoll: %w", err)
		}
		p.sets = append(p.sets, &pollSet{fd: fd, subs: map[int32]*subscriber{}})
	}
	for _, set := range p.sets {
		p.wg.Go(func() { set.run(ctx) })
	}
	return p, nil
}

// Wait waits for the poll sets to stop and closes the streams they held.
func (p *poller) Wait() {
	p.wg.Wait()
	p.closeSets()
}

func (p *poller) closeSets() {
	for _, set := range p.sets {
		for fd := range set.subs {
			// Reset rather than closed: tens of thousands of connections in
			// TIME_WAIT, a minute each, slow the next run's every packet.
			syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1})
			syscall.Close(int(fd))
		}
		syscall.Close(set.fd)
	}
}

// add hands s's stream on conn to a poll set, which reads it from then on,
// and reports whether it could. The set gets a copy of the socket's
// descriptor and conn is closed: a socket the runtime's poller also
// watched would wake it, and the loopback writer, on every packet.
func (p *poller) add(s *subscriber, conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	rc.Control(func(orig uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, orig, syscall.F_DUPFD_CLOEXEC, 0)
		if errno == 0 {
			fd = int(r)
		}
	})
	if fd < 0 {
		return false
	}
	conn.Close()
	p.mu.Lock()
	set := p.sets[p.next%len(p.sets)]
	p.next++
	p.mu.Unlock()
	set.mu.Lock()
	defer set.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(set.fd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		s.end(err)
		return true
	}
	set.subs[int32(fd)] = s
	return true
}

// run reads the set's sockets as they become readable until ctx ends.
// Each wake-up reads what one socket has, up to a buffer, and parses it.
func (set *pollSet) run(ctx context.Context) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, readBufferSize)
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(set.fd, events, int(pollTimeout/time.Millisecond))
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			set.mu.Lock()
			s := set.subs[ev.Fd]
			set.mu.Unlock()
			if s == nil {
				continue
			}
			if err := read(int(ev.Fd), s, buf); err != nil {
				set.drop(ev.Fd)
				if ctx.Err() == nil {
					s.end(err)
				}
			}
		}
	}
}

// read reads once from s's socket fd and parses what came; the error is
// the stream's end.
func read(fd int, s *subscriber, buf []byte) error {
	n, err := syscall.Read(fd, buf)
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		return nil
	case err != nil:
		return err
	case n == 0:
		return io.EOF
	}
	return s.arrive(buf[:n], s.sh.now())
}

// drop stops watching a stream that ended and closes it.
func (set *pollSet) drop(fd int32) {
	set.mu.Lock()
	defer set.mu.Unlock()
	syscall.EpollCtl(set.fd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	delete(set.subs, fd)
	syscall.Close(int(fd))
}
