package fanout

import "time"

// entry is an event kept for clients that resume.
type entry struct {
	topics []string
	f      *Frame
	at     time.Time // when its event happened, or when it was kept
}

// history keeps the events of all sources in one list in publish order,
// which is each source's own order. Its live part is items[head:]; the dead
// prefix is dropped once it is the larger half, so trimming costs O(1)
// amortised. start holds, per source, the position after which it has every
// event of that source.
type history struct {
	items []entry
	head  int
	start []Position
	count []int // live entries by source
	bytes int   // what the live entries cost, about
}

func newHistory(start []Position) history {
	return history{start: start, count: make([]int, len(start))}
}

// add appends e.
func (h *history) add(e entry) {
	h.items = append(h.items, e)
	h.count[e.f.src]++
	h.bytes += e.f.size()
}

// trim drops the events that happened before cut, and the oldest beyond
// maxEvents or maxBytes. It returns how many it dropped.
func (h *history) trim(cut time.Time, maxEvents, maxBytes int) int {
	n := 0
	for h.head < len(h.items) {
		e := h.items[h.head]
		if !e.at.Before(cut) && len(h.items)-h.head <= maxEvents && h.bytes <= maxBytes {
			break
		}
		h.start[e.f.src] = maxPos(h.start[e.f.src], e.f.pos)
		h.count[e.f.src]--
		h.bytes -= e.f.size()
		h.items[h.head] = entry{}
		h.head++
		n++
	}
	if h.head > len(h.items)/2 {
		h.items = append(h.items[:0:0], h.items[h.head:]...)
		h.head = 0
	}
	return n
}

// after returns a run of events, oldest first, that holds every kept event
// after v, and perhaps some before it of other sources: a listener filters
// those out. Since each source's events are in order, it walks back from
// the newest until it has passed v in every source that has events.
func (h *history) after(v []Position) []entry {
	live := h.items[h.head:]
	var want, passed uint64
	for src, n := range h.count {
		if n > 0 {
			want |= 1 << src
		}
	}
	i := len(live)
	for ; i > 0 && passed != want; i-- {
		e := live[i-1]
		if bit := uint64(1) << e.f.src; passed&bit == 0 && !v[e.f.src].Less(e.f.pos) {
			passed |= bit
		}
	}
	return live[i:]
}

// len returns how many events are kept.
func (h *history) len() int {
	return len(h.items) - h.head
}
