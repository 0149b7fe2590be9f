package forum

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"github.com/256dpi/lungo/mongokit"
)

// Loader adds many documents to an embedded store that no process has open,
// for seeding. lungo copies a collection for every document it inserts, which
// makes loading n documents cost O(n²); the loader instead inserts into the
// collections in place and writes one snapshot when closed. It writes no
// oplog entries: no change stream can be waiting on a store nobody has open.
type Loader struct {
	store  *journalStore
	lock   *os.File
	closed bool
}

// OpenLoader opens the embedded store at path for loading.
func OpenLoader(path string) (*Loader, error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s (lock %s)", ErrLocked, path, path+".lock")
	}
	store, err := openJournalStore(osFS{}, path, DefaultSnapshotBytes, slog.Default())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	return &Loader{store: store, lock: lock}, nil
}

// Insert adds docs to the collection named coll, creating it if needed.
func (l *Loader) Insert(coll string, docs ...any) error {
	h := lungo.Handle{"forum", coll}
	ns := l.store.catalog.Namespaces[h]
	if ns == nil {
		ns = mongokit.NewCollection(true)
		l.store.catalog.Namespaces[h] = ns
	}
	for _, d := range docs {
		doc, err := bsonkit.Transform(d)
		if err != nil {
			return fmt.Errorf("encode %s document: %w", coll, err)
		}
		if _, err := ns.Insert(doc); err != nil {
			return fmt.Errorf("insert %s document: %w", coll, err)
		}
	}
	return nil
}

// Close writes what was loaded as a new snapshot and releases the store.
// Closing again does nothing.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	defer l.lock.Close()
	defer l.store.Close()
	if err := l.store.writeSnapshot(l.store.catalog, l.store.seq+1); err != nil {
		return err
	}
	return l.store.resetJournal()
}
