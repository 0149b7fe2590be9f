package streams

import (
	"errors"
	"fmt"
	"testing"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
)

func positions(es []entry) []uint64 {
	var fs []*frame
	for _, e := range es {
		fs = append(fs, e.f)
	}
	return framePositions(fs)
}

func framePositions(fs []*frame) []uint64 {
	var ps []uint64
	for _, f := range fs {
		ps = append(ps, f.ts)
	}
	return ps
}

func TestHistoryKeepsPositionOrderAndTrims(t *testing.T) {
	var h history
	for _, ts := range []uint64{1, 2, 5, 3, 4, 7, 6, 8} {
		h.add(entry{topic: PostsTopic, f: &frame{ts: ts}})
	}
	if got := fmt.Sprint(positions(h.after(0))); got != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("history %s, want in order", got)
	}
	if got := fmt.Sprint(positions(h.after(4))); got != "[5 6 7 8]" {
		t.Fatalf("after 4: %s", got)
	}
	h.trim(6)
	if got := fmt.Sprint(positions(h.after(0))); got != "[6 7 8]" {
		t.Fatalf("trimmed to %s, want [6 7 8]", got)
	}
	h.add(entry{topic: PostsTopic, f: &frame{ts: 9}})
	h.trim(100)
	if got := h.after(0); len(got) != 0 {
		t.Fatalf("trimmed all, kept %v", positions(got))
	}
}

func TestListenerFallingBehindIsCutOff(t *testing.T) {
	l := newListener([]string{PostsTopic}, []string{postsKind}, 2)
	l.replay([]entry{{PostsTopic, &frame{ts: 1}}, {CommentsTopic([12]byte{}), &frame{ts: 2}}, {PostsTopic, &frame{ts: 3}}})
	l.push(&frame{ts: 4})
	l.push(&frame{ts: 5})
	q, evicted := l.take(nil)
	if evicted || fmt.Sprint(framePositions(q)) != "[1 3 4 5]" {
		t.Fatalf("took %v (cut off %v): replay may exceed the queue size", framePositions(q), evicted)
	}
	for ts := range uint64(3) {
		l.push(&frame{ts: 6 + ts})
	}
	if q, evicted := l.take(nil); !evicted || len(q) != 0 {
		t.Fatalf("took %d frames (cut off %v), want none and cut off", len(q), evicted)
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := min(minBackoff<<min(n-1, 16), maxBackoff)
		if got := backoff(n); got < d/2 || got >= d {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, got, d/2, d)
		}
	}
}

func TestHistoryLostIsRecognised(t *testing.T) {
	for _, tt := range []struct {
		err  error
		lost bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{lungo.ErrLostOplogPosition, true},
		{fmt.Errorf("next: %w", lungo.ErrLostOplogPosition), true},
		{errors.New("unable to resume change stream"), true},
		{mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost"}, true},
		{mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError"}, true},
		{mongo.CommandError{Code: 11600, Name: "InterruptedAtShutdown"}, false},
	} {
		if got := historyLost(tt.err); got != tt.lost {
			t.Errorf("historyLost(%v) = %v, want %v", tt.err, got, tt.lost)
		}
	}
}
