package forum

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"github.com/256dpi/lungo/mongokit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// The files of a journal store start with these, so that neither can be
// mistaken for the other or for lungo's single-file format.
var (
	snapshotMagic = []byte("FORUMSN1")
	journalMagic  = []byte("FORUMJN1")
)

// frameHeader is the size of a record's header: the payload length, the
// CRC32C of the length and the CRC32C of the payload. The length has its own
// checksum so that a flipped bit in it is told apart from a torn tail.
const frameHeader = 12

// snapshotChunk bounds how many documents one snapshot record holds, so that
// writing and reading a snapshot never needs one buffer for a whole
// collection.
const snapshotChunk = 1000

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrStoreFailed is wrapped by every write refused because an earlier write
// failed in a way that leaves the files in doubt (a failed fdatasync, or a
// failed write that could not be cut off again). The store must be reopened.
var ErrStoreFailed = errors.New("data file store failed earlier; reopen it")

// storeFile is the part of a file the journal store writes through.
type storeFile interface {
	io.Writer
	// Datasync flushes the file's data to stable storage (fdatasync).
	Datasync() error
	Truncate(size int64) error
	Close() error
}

// storeFS is the file system the journal store works on. Tests replace it to
// inject faults: a full disk, a failing fdatasync, short writes.
type storeFS interface {
	ReadFile(name string) ([]byte, error)
	// Create creates or truncates a file for writing.
	Create(name string) (storeFile, error)
	// Append opens an existing file for appending.
	Append(name string) (storeFile, error)
	Rename(from, to string) error
	// SyncDir makes renames in a folder durable.
	SyncDir(dir string) error
}

// osFS is the real file system.
type osFS struct{}

type osFile struct{ *os.File }

func (f osFile) Datasync() error { return datasync(f.File) }

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) Create(name string) (storeFile, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Append(name string) (storeFile, error) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// journalStore is a lungo Store that writes only what each commit changed.
//
// Layout, for a data file at path:
//
//   - path is the snapshot: "FORUMSN1", then records. The first holds the
//     commit sequence number the snapshot includes and every namespace with
//     its indexes and document count; then come the documents, up to
//     snapshotChunk per record, namespace by namespace; a last record marks
//     the end. The oplog (local.oplog) is a namespace like the others, so it
//     survives restarts and change streams resume across them.
//   - path+".journal" is the journal: "FORUMJN1", then one record per commit
//     made since (or shortly before) the snapshot: its sequence number, how
//     many oplog entries lungo trimmed from the front, and the oplog entries
//     the commit added. An entry holds the full document for inserts,
//     replaces and updates and the key for deletes, so replaying the entries
//     in order rebuilds the collections and the oplog alike.
//   - path+".lock" keeps a second process out (see OpenFile).
//
// A record is its payload's length (uint32, little endian), the CRC32C of
// those four bytes, the CRC32C of the payload, and the payload, a BSON
// document. Each commit is one write and one fdatasync. Opening loads the
// snapshot and replays the journal records after its sequence number. A
// record that fails its checksum at the end of the journal is a torn append:
// it is cut off and logged. One that fails before the end, with a good record
// after it, fails the open.
//
// A commit that the oplog does not fully describe (a new or dropped
// collection, a changed index, or an oplog trimmed past what was last
// written) is stored as a new snapshot instead. A snapshot is also written
// when the journal has grown past the snapshot's size (and minSnapshot), so
// opening stays fast. Snapshots are written to path+".tmp", synced, renamed
// over path and the folder synced; the journal is then cut back to its
// header. A crash between the two leaves journal records the snapshot
// already holds, which opening skips by their sequence numbers.
//
// lungo keeps its catalog until Store returns, and drops the transaction if
// Store fails, so a failed write leaves memory as it was; the store cuts the
// journal back to where it was. If that is not possible, or fdatasync failed
// (after which what the disk holds is unknown), it refuses further writes
// with ErrStoreFailed rather than let memory and disk diverge.
type journalStore struct {
	fs          storeFS
	path        string
	log         *slog.Logger
	minSnapshot int64

	catalog *lungo.Catalog // as last written
	seq     int64          // sequence number of the last written commit

	// mu guards the files and what is known of them: commits (Store) and
	// the snapshot written in the background both change them.
	mu       sync.Mutex
	journal  storeFile
	size     int64 // bytes in the journal
	snapSize int64 // bytes in the snapshot
	failed   error
	// snapping is closed when the snapshot being written in the background
	// is done; nil when none is. pending holds the records appended since
	// that snapshot's commit, which the journal keeps after it.
	snapping chan struct{}
	pending  []byte
	// retryAt is when a background snapshot may be tried again after one
	// failed, so that a full disk does not mean a snapshot per commit.
	retryAt time.Time
}

// openJournalStore opens or creates the store at path, converting a data
// file in lungo's single-file format.
func openJournalStore(fsys storeFS, path string, minSnapshot int64, log *slog.Logger) (*journalStore, error) {
	s := &journalStore{fs: fsys, path: path, log: log, minSnapshot: minSnapshot}
	snap, err := fsys.ReadFile(path)
	snapMissing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !snapMissing {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	jbuf, err := fsys.ReadFile(s.journalPath())
	journalMissing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !journalMissing {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	switch {
	case snapMissing && !journalMissing:
		return nil, fmt.Errorf("journal %s is present but its snapshot %s is missing", s.journalPath(), path)
	case snapMissing:
		s.catalog = lungo.NewCatalog()
		if err := s.writeSnapshot(s.catalog, 0); err != nil {
			return nil, err
		}
	case bytes.HasPrefix(snap, snapshotMagic):
		if s.catalog, s.seq, err = readSnapshot(snap); err != nil {
			return nil, fmt.Errorf("read snapshot %s: %w", path, err)
		}
		s.snapSize = int64(len(snap))
	case isLegacyFile(snap):
		if s.catalog, err = readLegacy(snap); err != nil {
			return nil, fmt.Errorf("read lungo data file %s: %w", path, err)
		}
		if err := s.writeSnapshot(s.catalog, 0); err != nil {
			return nil, fmt.Errorf("convert lungo data file %s: %w", path, err)
		}
		log.Info("converted data file to snapshot and journal", "path", path)
	default:
		return nil, fmt.Errorf("%s is neither a snapshot nor a lungo data file", path)
	}
	if journalMissing || !bytes.HasPrefix(jbuf, journalMagic) && len(jbuf) < len(journalMagic) {
		// A missing journal, or one torn while its header was written, holds
		// no commits.
		return s, s.resetJournal()
	}
	if !bytes.HasPrefix(jbuf, journalMagic) {
		return nil, fmt.Errorf("%s is not a journal", s.journalPath())
	}
	good, err := s.replay(jbuf)
	if err != nil {
		return nil, fmt.Errorf("replay journal %s: %w", s.journalPath(), err)
	}
	if s.journal, err = fsys.Append(s.journalPath()); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	s.size = int64(len(jbuf))
	if good < len(jbuf) {
		log.Warn("cut off a torn journal tail", "path", s.journalPath(), "offset", good, "bytes", len(jbuf)-good)
		if err := s.cut(int64(good)); err != nil {
			s.journal.Close()
			return nil, fmt.Errorf("cut off torn journal tail: %w", err)
		}
	}
	return s, nil
}

func (s *journalStore) journalPath() string { return s.path + ".journal" }

// Load returns the catalog read when the store was opened.
func (s *journalStore) Load() (*lungo.Catalog, error) { return s.catalog, nil }

// Store writes what changed since the last call. lungo calls it with its
// write lock held, one commit at a time.
func (s *journalStore) Store(c *lungo.Catalog) error {
	drop, entries, ok := oplogDiff(s.catalog, c)
	if !ok || !sameShape(s.catalog, c) {
		return s.storeSnapshot(c)
	}
	payload, err := bson.Marshal(journalRecord{Seq: s.seq + 1, Drop: int64(drop), Entries: entries})
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, s.failed)
	}
	frame, err := s.appendRecord(payload)
	if err != nil {
		return err
	}
	s.catalog, s.seq = c, s.seq+1
	if s.snapping != nil {
		s.pending = append(s.pending, frame...)
	} else if s.size > max(s.minSnapshot, s.snapSize) && time.Now().After(s.retryAt) {
		s.snapshotInBackground(c, s.seq)
	}
	return nil
}

// storeSnapshot stores a commit that the oplog does not describe as a new
// snapshot, written before Store returns: until then lungo keeps the commit
// out of memory, so that a failure leaves both as they were.
func (s *journalStore) storeSnapshot(c *lungo.Catalog) error {
	s.awaitSnapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return fmt.Errorf("%w: %w", ErrStoreFailed, s.failed)
	}
	if err := s.writeSnapshot(c, s.seq+1); err != nil {
		return err
	}
	s.catalog, s.seq = c, s.seq+1
	s.resetJournalQuietly()
	return nil
}

// snapshotInBackground writes catalog c, which holds the commits up to seq,
// as the new snapshot while commits go on, then cuts the journal back to the
// records after seq. lungo never changes a catalog it has committed (every
// write clones what it changes), so c can be read while later commits are
// made. A crash before the journal is cut leaves records the new snapshot
// holds, which opening skips. A snapshot that fails is logged and tried
// again after snapshotRetry: the journal still holds every commit, so only
// opening is slower. That holds even when the folder could not be synced
// after the rename, as either snapshot agrees with the journal. Writing a snapshot of 100,000 posts takes seconds;
// commits do not wait for it.
func (s *journalStore) snapshotInBackground(c *lungo.Catalog, seq int64) {
	done := make(chan struct{})
	s.snapping = done
	go func() {
		defer close(done)
		size, err := s.writeSnapshotFile(c, seq)
		s.mu.Lock()
		defer s.mu.Unlock()
		pending := s.pending
		s.snapping, s.pending = nil, nil
		if err != nil {
			s.log.Error("write snapshot", "path", s.path, "err", err, "retry in", snapshotRetry)
			s.retryAt = time.Now().Add(snapshotRetry)
			return
		}
		s.snapSize = size
		if err := s.replaceJournal(pending); err != nil {
			s.log.Error("cut journal back after snapshot", "path", s.journalPath(), "err", err)
		}
	}()
}

// snapshotRetry is how long after a failed background snapshot the next is
// tried.
const snapshotRetry = 30 * time.Second

// awaitSnapshot waits until no snapshot is being written in the background.
func (s *journalStore) awaitSnapshot() {
	s.mu.Lock()
	done := s.snapping
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Close closes the journal.
func (s *journalStore) Close() error {
	s.awaitSnapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.journal == nil {
		return nil
	}
	err := s.journal.Close()
	s.journal = nil
	return err
}

// journalRecord is the payload of a journal record: one commit.
type journalRecord struct {
	Seq     int64        `bson:"seq"`
	Drop    int64        `bson:"drop"`
	Entries bsonkit.List `bson:"entries"`
}

// appendRecord appends one record and syncs it, or leaves the journal as it
// was. It returns the record as written.
func (s *journalStore) appendRecord(payload []byte) ([]byte, error) {
	frame := appendFrame(nil, payload)
	n, err := s.journal.Write(frame)
	if err == nil && n < len(frame) {
		err = io.ErrShortWrite
	}
	if err != nil {
		if n > 0 {
			if cerr := s.cut(s.size); cerr != nil {
				s.failed = cerr
			}
		}
		return nil, fmt.Errorf("append to journal %s: %w", s.journalPath(), err)
	}
	if err := s.journal.Datasync(); err != nil {
		// After a failed fdatasync the kernel may have dropped the pages, so
		// not even the earlier records are known to be on disk.
		s.failed = err
		_ = s.cut(s.size)
		return nil, fmt.Errorf("sync journal %s: %w", s.journalPath(), err)
	}
	s.size += int64(len(frame))
	return frame, nil
}

// cut truncates the journal to size and syncs it.
func (s *journalStore) cut(size int64) error {
	if err := s.journal.Truncate(size); err != nil {
		return err
	}
	if err := s.journal.Datasync(); err != nil {
		return err
	}
	s.size = size
	return nil
}

// resetJournal empties the journal, or creates it through a temporary file
// so that a crash never leaves a journal without its header.
func (s *journalStore) resetJournal() error {
	if s.journal != nil {
		return s.cut(int64(len(journalMagic)))
	}
	return s.replaceJournal(nil)
}

// replaceJournal replaces the journal with one that holds records, through a
// temporary file renamed over it, so that a crash leaves the old journal or
// the new one, never a part of either.
func (s *journalStore) replaceJournal(records []byte) error {
	tmp := s.journalPath() + ".tmp"
	f, err := s.fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	if _, err := f.Write(append(slices.Clip(journalMagic), records...)); err != nil {
		f.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	if err := f.Datasync(); err != nil {
		f.Close()
		return fmt.Errorf("sync journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close journal: %w", err)
	}
	if err := s.fs.Rename(tmp, s.journalPath()); err != nil {
		return fmt.Errorf("rename journal: %w", err)
	}
	// From here the old journal's handle writes to a file no longer named:
	// a failure leaves the store unable to write safely.
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	if err := s.fs.SyncDir(filepath.Dir(s.path)); err != nil {
		s.failed = err
		return fmt.Errorf("sync data folder: %w", err)
	}
	if s.journal, err = s.fs.Append(s.journalPath()); err != nil {
		s.failed = err
		return fmt.Errorf("open journal: %w", err)
	}
	s.size = int64(len(journalMagic) + len(records))
	return nil
}

// resetJournalQuietly empties the journal after a snapshot. Failing is
// harmless, as opening skips the records the snapshot holds, but a journal
// that cannot even be cut back is in doubt, so the store stops writing.
func (s *journalStore) resetJournalQuietly() {
	if err := s.resetJournal(); err != nil {
		s.log.Error("empty journal after snapshot", "path", s.journalPath(), "err", err)
		s.failed = err
	}
}

// oplogDiff returns how many entries lungo trimmed from the front of the
// oplog since prev and the entries the commit added. It reports false when
// the oplog does not prove that it holds every change: when no entry of prev
// is left, lungo may have trimmed some of the new ones too.
func oplogDiff(prev, next *lungo.Catalog) (int, bsonkit.List, bool) {
	old := prev.Namespaces[lungo.Oplog].Documents.List
	cur := next.Namespaces[lungo.Oplog].Documents.List
	if len(old) == 0 {
		return 0, nil, len(cur) == 0
	}
	last := entryTS(old[len(old)-1])
	k := sort.Search(len(cur), func(i int) bool { return tsAfter(entryTS(cur[i]), last) })
	if k == 0 || entryTS(cur[k-1]) != last || k > len(old) {
		return 0, nil, false
	}
	drop := len(old) - k
	if entryTS(cur[0]) != entryTS(old[drop]) {
		return 0, nil, false
	}
	entries := cur[k:]
	for _, e := range entries {
		switch bsonkit.Get(e, "operationType") {
		case "insert", "replace", "update", "delete":
		default:
			return 0, nil, false
		}
	}
	return drop, entries, true
}

func entryTS(e bsonkit.Doc) primitive.Timestamp {
	ts, _ := bsonkit.Get(e, "_id.ts").(primitive.Timestamp)
	return ts
}

func tsAfter(a, b primitive.Timestamp) bool {
	return a.T > b.T || a.T == b.T && a.I > b.I
}

// sameShape reports whether two catalogs have the same namespaces with the
// same indexes, the changes that the oplog does not record.
func sameShape(a, b *lungo.Catalog) bool {
	if len(a.Namespaces) != len(b.Namespaces) {
		return false
	}
	for h, na := range a.Namespaces {
		nb, ok := b.Namespaces[h]
		if !ok || len(na.Indexes) != len(nb.Indexes) {
			return false
		}
		for name, ia := range na.Indexes {
			ib, ok := nb.Indexes[name]
			if !ok || !ia.Config().Equal(ib.Config()) {
				return false
			}
		}
	}
	return true
}

// appendFrame appends payload as a record.
func appendFrame(dst, payload []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h[0:4], castagnoli))
	binary.LittleEndian.PutUint32(h[8:], crc32.Checksum(payload, castagnoli))
	return append(append(dst, h[:]...), payload...)
}

// readFrame reads the record at the start of buf and returns its payload and
// size, or false if there is no whole, intact record there.
func readFrame(buf []byte) ([]byte, int, bool) {
	if len(buf) < frameHeader {
		return nil, 0, false
	}
	if crc32.Checksum(buf[0:4], castagnoli) != binary.LittleEndian.Uint32(buf[4:]) {
		return nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(buf[0:]))
	if n > len(buf)-frameHeader {
		return nil, 0, false
	}
	payload := buf[frameHeader : frameHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(buf[8:]) {
		return nil, 0, false
	}
	return payload, frameHeader + n, true
}

// intactAfter reports whether an intact record starts anywhere in buf, which
// tells damage inside the journal from a torn tail.
func intactAfter(buf []byte) bool {
	for i := range buf {
		if _, _, ok := readFrame(buf[i:]); ok {
			return true
		}
	}
	return false
}

// replay applies the journal's records after the snapshot to s.catalog and
// returns the length of the intact part of buf.
func (s *journalStore) replay(buf []byte) (int, error) {
	r := newReplayer(s.catalog)
	off := len(journalMagic)
	for off < len(buf) {
		payload, n, ok := readFrame(buf[off:])
		if !ok {
			if intactAfter(buf[off+1:]) {
				return 0, fmt.Errorf("damaged record at offset %d, with intact records after it", off)
			}
			break
		}
		var rec journalRecord
		if err := bson.Unmarshal(payload, &rec); err != nil {
			return 0, fmt.Errorf("decode record at offset %d: %w", off, err)
		}
		switch {
		case rec.Seq <= s.seq:
			// The snapshot already holds this commit.
		case rec.Seq == s.seq+1:
			if err := r.apply(rec); err != nil {
				return 0, fmt.Errorf("apply record %d at offset %d: %w", rec.Seq, off, err)
			}
			s.seq = rec.Seq
		default:
			return 0, fmt.Errorf("record %d at offset %d follows commit %d: commits are missing", rec.Seq, off, s.seq)
		}
		off += n
	}
	c, err := r.catalog()
	if err != nil {
		return 0, err
	}
	s.catalog = c
	return off, nil
}

// replayer applies journal records to the namespaces of a catalog, building
// sets and indexes once at the end rather than per change.
type replayer struct {
	base  *lungo.Catalog
	oplog bsonkit.List
	lists map[lungo.Handle]bsonkit.List
	ids   map[lungo.Handle]map[string]int
}

func newReplayer(c *lungo.Catalog) *replayer {
	return &replayer{
		base:  c,
		oplog: append(bsonkit.List(nil), c.Namespaces[lungo.Oplog].Documents.List...),
		lists: map[lungo.Handle]bsonkit.List{},
		ids:   map[lungo.Handle]map[string]int{},
	}
}

func (r *replayer) apply(rec journalRecord) error {
	if rec.Drop < 0 || rec.Drop > int64(len(r.oplog)) {
		return fmt.Errorf("drops %d of %d oplog entries", rec.Drop, len(r.oplog))
	}
	r.oplog = append(r.oplog[rec.Drop:], rec.Entries...)
	for _, e := range rec.Entries {
		db, _ := bsonkit.Get(e, "ns.db").(string)
		coll, _ := bsonkit.Get(e, "ns.coll").(string)
		h := lungo.Handle{db, coll}
		if _, ok := r.base.Namespaces[h]; !ok || h == lungo.Oplog {
			return fmt.Errorf("change to unknown namespace %q", h.String())
		}
		list, ids, err := r.namespace(h)
		if err != nil {
			return err
		}
		key, err := idKey(bsonkit.Get(e, "documentKey._id"))
		if err != nil {
			return err
		}
		pos, exists := ids[key]
		switch op := bsonkit.Get(e, "operationType"); op {
		case "insert", "replace", "update":
			doc, ok := bsonkit.Get(e, "fullDocument").(bson.D)
			if !ok {
				return fmt.Errorf("%s of %s without a full document", op, key)
			}
			if exists {
				list[pos] = &doc
			} else if op == "insert" {
				ids[key] = len(list)
				list = append(list, &doc)
			} else {
				return fmt.Errorf("%s of missing document %s", op, key)
			}
		case "delete":
			if !exists {
				return fmt.Errorf("delete of missing document %s", key)
			}
			list[pos] = nil
			delete(ids, key)
		default:
			return fmt.Errorf("unexpected operation %v", op)
		}
		r.lists[h] = list
	}
	return nil
}

// namespace returns the working document list of a namespace and its
// positions by id, copying the list so that the snapshot's stays intact.
func (r *replayer) namespace(h lungo.Handle) (bsonkit.List, map[string]int, error) {
	if list, ok := r.lists[h]; ok {
		return list, r.ids[h], nil
	}
	docs := r.base.Namespaces[h].Documents.List
	list := append(make(bsonkit.List, 0, len(docs)), docs...)
	ids := make(map[string]int, len(list))
	for i, d := range list {
		key, err := idKey(bsonkit.Get(d, "_id"))
		if err != nil {
			return nil, nil, err
		}
		ids[key] = i
	}
	r.lists[h], r.ids[h] = list, ids
	return list, ids, nil
}

// catalog returns the catalog with every record applied.
func (r *replayer) catalog() (*lungo.Catalog, error) {
	c := r.base.Clone()
	oplog := mongokit.NewCollection(false)
	oplog.Documents = bsonkit.NewSet(r.oplog)
	c.Namespaces[lungo.Oplog] = oplog
	for h, list := range r.lists {
		kept := list[:0]
		for _, d := range list {
			if d != nil {
				kept = append(kept, d)
			}
		}
		ns, err := buildNamespace(kept, r.base.Namespaces[h].Indexes)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", h.String(), err)
		}
		c.Namespaces[h] = ns
	}
	return c, nil
}

// idKey turns a document id into a map key.
func idKey(id any) (string, error) {
	t, data, err := bson.MarshalValue(id)
	if err != nil {
		return "", fmt.Errorf("document id %v: %w", id, err)
	}
	return string(rune(t)) + string(data), nil
}

// buildNamespace builds a collection of docs with indexes configured like
// those given.
func buildNamespace(docs bsonkit.List, like map[string]*mongokit.Index) (*mongokit.Collection, error) {
	configs := make(map[string]mongokit.IndexConfig, len(like))
	for name, idx := range like {
		configs[name] = idx.Config()
	}
	return buildCollection(docs, configs)
}

func buildCollection(docs bsonkit.List, indexes map[string]mongokit.IndexConfig) (*mongokit.Collection, error) {
	ns := mongokit.NewCollection(false)
	ns.Documents = bsonkit.NewSet(docs)
	if len(ns.Documents.List) != len(docs) {
		return nil, fmt.Errorf("a document is listed twice")
	}
	names := make([]string, 0, len(indexes))
	for name := range indexes {
		names = append(names, name)
	}
	// Each index is built alone, from the same documents: building them is
	// the other half of opening a large store.
	built := make([]*mongokit.Index, len(names))
	err := parallel(len(names), func(i int) error {
		idx, err := mongokit.CreateIndex(indexes[names[i]])
		if err != nil {
			return fmt.Errorf("index %s: %w", names[i], err)
		}
		ok, err := idx.Build(docs)
		if err != nil {
			return fmt.Errorf("index %s: %w", names[i], err)
		} else if !ok {
			return fmt.Errorf("index %s: duplicate key", names[i])
		}
		built[i] = idx
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		ns.Indexes[name] = built[i]
	}
	return ns, nil
}

// snapshotHeader is the first record of a snapshot.
type snapshotHeader struct {
	Seq        int64               `bson:"seq"`
	Namespaces []snapshotNamespace `bson:"namespaces"`
}

type snapshotNamespace struct {
	Name    string                     `bson:"name"`
	Count   int64                      `bson:"count"`
	Indexes map[string]lungo.FileIndex `bson:"indexes"`
}

// snapshotDocs is a record of documents of the namespace at index NS of the
// header. The last record has End set and no documents.
type snapshotDocs struct {
	NS   int64        `bson:"ns"`
	Docs bsonkit.List `bson:"docs"`
	End  bool         `bson:"end,omitempty"`
}

// writeSnapshot writes c, which holds the commits up to seq, as the
// snapshot.
func (s *journalStore) writeSnapshot(c *lungo.Catalog, seq int64) error {
	size, err := s.writeSnapshotFile(c, seq)
	if errors.Is(err, errFolderSync) {
		// Which snapshot a crash would leave is unknown, and the new one
		// may hold a commit that lungo is about to drop: stop writing.
		s.failed = err
	}
	if err != nil {
		return err
	}
	s.snapSize = size
	return nil
}

// errFolderSync marks a snapshot renamed into place whose folder could not
// be synced.
var errFolderSync = errors.New("sync data folder")

// writeSnapshotFile writes c as the snapshot: to a temporary file, synced,
// renamed over the snapshot, and the folder synced. It returns the
// snapshot's size and changes nothing of s, so that it can run beside
// commits.
func (s *journalStore) writeSnapshotFile(c *lungo.Catalog, seq int64) (int64, error) {
	tmp := s.path + ".tmp"
	f, err := s.fs.Create(tmp)
	if err != nil {
		return 0, fmt.Errorf("create snapshot: %w", err)
	}
	size, err := encodeSnapshot(f, c, seq)
	if err == nil {
		err = f.Datasync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Rename(tmp, s.path)
	}
	if err != nil {
		return 0, fmt.Errorf("write snapshot %s: %w", tmp, err)
	}
	if err := s.fs.SyncDir(filepath.Dir(s.path)); err != nil {
		return 0, fmt.Errorf("%w: %w", errFolderSync, err)
	}
	return size, nil
}

// encodeSnapshot writes c to w and returns the bytes written.
func encodeSnapshot(w io.Writer, c *lungo.Catalog, seq int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	handles := make([]lungo.Handle, 0, len(c.Namespaces))
	for h := range c.Namespaces {
		handles = append(handles, h)
	}
	sort.Slice(handles, func(i, j int) bool { return handles[i].String() < handles[j].String() })
	head := snapshotHeader{Seq: seq}
	file := lungo.BuildFile(c)
	for _, h := range handles {
		ns := c.Namespaces[h]
		head.Namespaces = append(head.Namespaces, snapshotNamespace{
			Name: h.String(), Count: int64(len(ns.Documents.List)), Indexes: file.Namespaces[h.String()].Indexes,
		})
	}
	var size int64
	write := func(v any) error {
		payload, err := bson.Marshal(v)
		if err != nil {
			return err
		}
		frame := appendFrame(nil, payload)
		size += int64(len(frame))
		_, err = bw.Write(frame)
		return err
	}
	if _, err := bw.Write(snapshotMagic); err != nil {
		return 0, err
	}
	size += int64(len(snapshotMagic))
	if err := write(head); err != nil {
		return 0, err
	}
	for i, h := range handles {
		docs := c.Namespaces[h].Documents.List
		for start := 0; start < len(docs); start += snapshotChunk {
			if err := write(snapshotDocs{NS: int64(i), Docs: docs[start:min(start+snapshotChunk, len(docs))]}); err != nil {
				return 0, err
			}
		}
	}
	if err := write(snapshotDocs{End: true}); err != nil {
		return 0, err
	}
	return size, bw.Flush()
}

// readSnapshot decodes a snapshot and returns its catalog and the sequence
// number of the last commit it holds. Any damage fails it: a snapshot is
// written whole before it replaces the last one.
func readSnapshot(buf []byte) (*lungo.Catalog, int64, error) {
	off := len(snapshotMagic)
	var payloads [][]byte
	for off < len(buf) {
		payload, n, ok := readFrame(buf[off:])
		if !ok {
			return nil, 0, fmt.Errorf("damaged record at offset %d", off)
		}
		payloads = append(payloads, payload)
		off += n
	}
	if len(payloads) < 2 {
		return nil, 0, errors.New("no header or no end record")
	}
	var head snapshotHeader
	if err := bson.Unmarshal(payloads[0], &head); err != nil {
		return nil, 0, fmt.Errorf("decode header: %w", err)
	}
	// Decoding the documents is most of the work of opening a large
	// store, and each record decodes alone.
	recs := make([]snapshotDocs, len(payloads)-1)
	err := parallel(len(recs), func(i int) error {
		if err := bson.Unmarshal(payloads[i+1], &recs[i]); err != nil {
			return fmt.Errorf("decode record %d: %w", i+1, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if !recs[len(recs)-1].End {
		return nil, 0, errors.New("no end record")
	}
	lists := make([]bsonkit.List, len(head.Namespaces))
	for i, ns := range head.Namespaces {
		lists[i] = make(bsonkit.List, 0, ns.Count)
	}
	for i, rec := range recs[:len(recs)-1] {
		if rec.End {
			return nil, 0, fmt.Errorf("end record %d before the last", i+1)
		}
		if rec.NS < 0 || rec.NS >= int64(len(lists)) {
			return nil, 0, fmt.Errorf("record %d names namespace %d of %d", i+1, rec.NS, len(lists))
		}
		lists[rec.NS] = append(lists[rec.NS], rec.Docs...)
	}
	configs := make([]map[string]mongokit.IndexConfig, len(head.Namespaces))
	for i, ns := range head.Namespaces {
		if int64(len(lists[i])) != ns.Count {
			return nil, 0, fmt.Errorf("namespace %s: %d documents, want %d", ns.Name, len(lists[i]), ns.Count)
		}
		configs[i] = make(map[string]mongokit.IndexConfig, len(ns.Indexes))
		for name, idx := range ns.Indexes {
			configs[i][name] = mongokit.IndexConfig{Key: idx.Key, Unique: idx.Unique, Partial: idx.Partial, Expiry: idx.Expiry}
		}
	}
	colls := make([]*mongokit.Collection, len(head.Namespaces))
	err = parallel(len(colls), func(i int) error {
		var err error
		if colls[i], err = buildCollection(lists[i], configs[i]); err != nil {
			return fmt.Errorf("namespace %s: %w", head.Namespaces[i].Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	c := &lungo.Catalog{Namespaces: map[lungo.Handle]*mongokit.Collection{}}
	for i, ns := range head.Namespaces {
		db, coll, ok := strings.Cut(ns.Name, ".")
		if !ok {
			return nil, 0, fmt.Errorf("invalid namespace name %q", ns.Name)
		}
		c.Namespaces[lungo.Handle{db, coll}] = colls[i]
	}
	if c.Namespaces[lungo.Oplog] == nil {
		return nil, 0, fmt.Errorf("no oplog")
	}
	return c, head.Seq, nil
}

// parallel runs fn(0) to fn(n-1) on as many goroutines as there are CPUs,
// and returns the first error. Every call has returned when it does.
func parallel(n int, fn func(i int) error) error {
	var next atomic.Int64
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || errs[w] != nil {
					return
				}
				errs[w] = fn(i)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// isLegacyFile reports whether buf looks like lungo's single-file format: one
// BSON document, which starts with its own length.
func isLegacyFile(buf []byte) bool {
	return len(buf) >= 5 && int(binary.LittleEndian.Uint32(buf)) == len(buf) && buf[len(buf)-1] == 0
}

// readLegacy decodes a data file written by lungo's FileStore.
func readLegacy(buf []byte) (*lungo.Catalog, error) {
	var file lungo.File
	if err := bson.Unmarshal(buf, &file); err != nil {
		return nil, err
	}
	c, err := file.BuildCatalog()
	if err != nil {
		return nil, err
	}
	if c.Namespaces[lungo.Oplog] == nil {
		c.Namespaces[lungo.Oplog] = mongokit.NewCollection(false)
	}
	return c, nil
}
