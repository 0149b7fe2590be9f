package fanout

import (
	"testing"
	"time"
)

// Every stream records each of its writes: that must cost no allocation.
func TestRecordingAWriteDoesNotAllocate(t *testing.T) {
	m := newMetrics(nil)
	v := []Position{{Time: 1}}
	event := newEvent(0, v[0], v, "post", []byte(`{}`), time.Now().Add(-time.Millisecond))
	frames := []*Frame{event, NewState("count", "count", []byte("3")), resetFrame(ResetExpired)}
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { m.written(frames, now) }); n != 0 {
		t.Fatalf("%v allocations per write", n)
	}
}
