package forum

import "sync/atomic"

// CountCompares makes s count its password comparisons into the returned
// counter, which proves that a sign-in did the hashing work whatever the
// clock says.
func CountCompares(s *Store) *atomic.Int64 {
	var n atomic.Int64
	compare := s.compare
	s.compare = func(hash, password []byte) error {
		n.Add(1)
		return compare(hash, password)
	}
	return &n
}
