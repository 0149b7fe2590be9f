package streams

import (
	"testing"
	"time"
)

// Every stream records each of its writes: that must cost no allocation.
func TestRecordingAWriteDoesNotAllocate(t *testing.T) {
	m := newMetrics()
	event := newFrame(1, "post", []byte(`{}`))
	event.at = time.Now().Add(-time.Millisecond)
	frames := []*frame{event, unreadFrame(3), resetFrame(resetExpired)}
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { m.written(frames, now) }); n != 0 {
		t.Fatalf("%v allocations per write", n)
	}
}
