package streams

import (
	"slices"
	"sort"
)

// entry is an event kept for clients that resume.
type entry struct {
	topic string
	f     *frame
}

// history keeps the events of all watched collections in one list ordered by
// position. Its live part is items[head:]; the dead prefix is dropped once it
// is the larger half, so trimming costs O(1) amortised.
type history struct {
	items []entry
	head  int
}

// add inserts e at its place by position. Events nearly always come in
// order, so the place is found by walking back from the end.
func (h *history) add(e entry) {
	i := len(h.items)
	for i > h.head && h.items[i-1].f.ts > e.f.ts {
		i--
	}
	h.items = slices.Insert(h.items, i, e)
}

// trim drops the events before position cut.
func (h *history) trim(cut uint64) {
	for h.head < len(h.items) && h.items[h.head].f.ts < cut {
		h.items[h.head] = entry{}
		h.head++
	}
	if h.head > len(h.items)/2 {
		h.items = append(h.items[:0:0], h.items[h.head:]...)
		h.head = 0
	}
}

// after returns the events after position pos, oldest first.
func (h *history) after(pos uint64) []entry {
	live := h.items[h.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].f.ts > pos })
	return live[i:]
}
