package web

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"forum/forum"
)

// Bounds on what one request may take of the server: bytes of body, and
// time to send the body and to take the response.

// maxEncodedRune is the most bytes one character of text can take on the
// wire, in either encoding the forum accepts: a character of 4 UTF-8 bytes
// is 12 when a form percent-encodes each byte (%F0%9F%98%80), and 12 when
// JSON writes it as an escaped surrogate pair (\ud83d\ude00). Every other
// character takes fewer (a line break in a form is CR LF, %0D%0A: 6).
const maxEncodedRune = 12

// bodyMargin covers field names, separators and the JSON object's syntax.
const bodyMargin = 4 << 10

// MaxBodyBytes is the largest request body accepted, form or JSON. The
// largest text a request carries within the limits is a new post:
//
//	(MaxTitleLen + MaxPostBodyLen) × maxEncodedRune + bodyMargin
//	= (200 + 20,000) × 12 + 4,096 = 246,496 bytes, about 241 KiB.
//
// deploy/nginx.conf's client_max_body_size must be at least this.
const MaxBodyBytes = (forum.MaxTitleLen+forum.MaxPostBodyLen)*maxEncodedRune + bodyMargin

// timeouts bound the time of a request that is not an event stream: read
// to receive its body, write to send its response.
type timeouts struct {
	read, write time.Duration
}

var defaultTimeouts = timeouts{read: 30 * time.Second, write: 30 * time.Second}

// WithTimeouts bounds the time a client has to send a request's body (read)
// and to take its response (write); a client slower than that is cut off.
// Event streams are not bounded: they set a deadline of their own for every
// write. Both default to 30 seconds.
func WithTimeouts(read, write time.Duration) Option {
	return func(s *Server) {
		s.timeouts = timeouts{read: read, write: write}
	}
}

// isStream tells whether a request is for an event stream.
func isStream(r *http.Request) bool {
	return r.URL.Path == "/stream" || strings.HasPrefix(r.URL.Path, "/stream/")
}

// withDeadlines bounds the time of every request but the event streams.
// http.Server's ReadTimeout and WriteTimeout would bound the streams too, so
// the deadlines are set here, per request, through the ResponseController,
// which reaches the connection on HTTP/1 and the stream on HTTP/2.
//
// The read deadline is set only while there is a body to read, and lifted
// when it has all arrived: on HTTP/1 the server goes on reading the
// connection in the background to notice a client that goes away, and a
// deadline that passed there would cancel the request's context.
func (s *Server) withDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(s.timeouts.write)); err != nil {
			s.log.Warn("set write deadline", "path", r.URL.Path, "err", err)
		}
		if r.Body != nil && r.Body != http.NoBody {
			if err := rc.SetReadDeadline(time.Now().Add(s.timeouts.read)); err != nil {
				s.log.Warn("set read deadline", "path", r.URL.Path, "err", err)
			}
			r.Body = &boundedBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// boundedBody is a request body read under a deadline, which it lifts once
// the body has all arrived.
type boundedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *boundedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// boundError returns what to tell a client whose request body broke a
// bound, too large or too slow, or nil when err is of another kind. what
// names the body in the message, for instance "What you sent".
func boundError(err error, what string) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return forum.Errorf(eTooLarge, "%s is larger than %d KiB, more than any text within the forum's limits, so it could not be kept. Shorten it and send it again.", what, MaxBodyBytes>>10)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return forum.Errorf(eTimeout, "%s took longer to arrive than the server waits for a request.", what)
	}
	return nil
}
