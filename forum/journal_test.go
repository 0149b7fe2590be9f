package forum

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// faultFS is the real file system with faults switched on by tests.
type faultFS struct {
	osFS
	mu       sync.Mutex
	writeErr error // returned by the next writes
	short    bool  // the failing writes write half their bytes first
	syncErr  error // returned by the next fdatasyncs
	// failCreate makes creating a file fail, as on a full disk, while
	// files already open still take writes.
	failCreate atomic.Bool
}

func (f *faultFS) set(writeErr error, short bool, syncErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeErr, f.short, f.syncErr = writeErr, short, syncErr
}

func (f *faultFS) faults() (error, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeErr, f.short, f.syncErr
}

func (f *faultFS) Create(name string) (storeFile, error) {
	if f.failCreate.Load() {
		return nil, syscall.ENOSPC
	}
	file, err := f.osFS.Create(name)
	return faultFile{file, f}, err
}

func (f *faultFS) Append(name string) (storeFile, error) {
	file, err := f.osFS.Append(name)
	return faultFile{file, f}, err
}

type faultFile struct {
	storeFile
	fs *faultFS
}

func (f faultFile) Write(p []byte) (int, error) {
	werr, short, _ := f.fs.faults()
	if werr == nil {
		return f.storeFile.Write(p)
	}
	if !short {
		return 0, werr
	}
	n, err := f.storeFile.Write(p[:len(p)/2])
	if err != nil {
		return n, err
	}
	return n, werr
}

func (f faultFile) Datasync() error {
	if _, _, serr := f.fs.faults(); serr != nil {
		return serr
	}
	return f.storeFile.Datasync()
}

// openTest opens a store in dir with small bounds and a logger into logs.
func openTest(t *testing.T, dir string, fsys storeFS, logs io.Writer) (*DB, error) {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	return OpenFileWith(context.Background(), filepath.Join(dir, "forum.db"), FileOptions{
		History: time.Minute, fs: fsys, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
}

func mustOpen(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := openTest(t, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db
}

// ids returns the ids in the collection, in natural order.
func ids(t *testing.T, db *DB, coll string) []int {
	t.Helper()
	cur, err := db.Database.Collection(coll).Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID int `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func insert(t *testing.T, db *DB, coll string, ids ...int) error {
	t.Helper()
	docs := make([]any, len(ids))
	for i, id := range ids {
		docs[i] = bson.M{"_id": id, "n": id}
	}
	_, err := db.Database.Collection(coll).InsertMany(context.Background(), docs)
	return err
}

func TestJournalKeepsEveryKindOfChangeAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := openTest(t, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := db.Database.Collection("things")
	if err := insert(t, db, "things", 1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Indexes().CreateOne(ctx, mongoIndex("n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateOne(ctx, bson.M{"_id": 2}, bson.M{"$set": bson.M{"n": 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReplaceOne(ctx, bson.M{"_id": 3}, bson.M{"n": 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteOne(ctx, bson.M{"_id": 1}); err != nil {
		t.Fatal(err)
	}
	if err := insert(t, db, "things", 5); err != nil {
		t.Fatal(err)
	}
	oplog := len(db.engine.Catalog().Namespaces[lungo.Oplog].Documents.List)
	db.Close(ctx)

	db = mustOpen(t, dir)
	if got, want := fmt.Sprint(ids(t, db, "things")), "[2 3 4 5]"; got != want {
		t.Errorf("ids: got %s, want %s", got, want)
	}
	var doc struct{ N int }
	if err := db.Database.Collection("things").FindOne(ctx, bson.M{"_id": 3}).Decode(&doc); err != nil || doc.N != 30 {
		t.Errorf("replaced document: got %+v, %v", doc, err)
	}
	if err := db.Database.Collection("things").FindOne(ctx, bson.M{"n": 20}).Decode(&doc); err != nil {
		t.Errorf("updated document: %v", err)
	}
	if _, ok := db.engine.Catalog().Namespaces[lungo.Handle{"forum", "things"}].Indexes["n_1"]; !ok {
		t.Error("index n_1 was not kept")
	}
	if got := len(db.engine.Catalog().Namespaces[lungo.Oplog].Documents.List); got != oplog {
		t.Errorf("oplog entries: got %d, want %d", got, oplog)
	}
}

func mongoIndex(field string) mongo.IndexModel {
	return mongo.IndexModel{Keys: bson.D{{Key: field, Value: 1}}}
}

func TestJournalSnapshotsAndTrimsTheOplog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "forum.db")
	db, err := OpenFileWith(ctx, path, FileOptions{History: time.Minute, MaxOplog: 50, SnapshotBytes: 4 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 300 {
		if err := insert(t, db, "things", i); err != nil {
			t.Fatal(err)
		}
		want = append(want, i)
	}
	// lungo never trims the current second's entries, so the bound holds
	// for the entries before it.
	oplog := db.engine.Catalog().Namespaces[lungo.Oplog].Documents.List
	now := entryTS(oplog[len(oplog)-1]).T
	current := 0
	for _, e := range oplog {
		if entryTS(e).T == now {
			current++
		}
	}
	if len(oplog) > max(50, current) {
		t.Errorf("oplog entries: got %d, want at most 50 or the %d of the current second", len(oplog), current)
	}
	snap, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, seq, err := readSnapshot(snap); err != nil || seq < 100 {
		t.Errorf("snapshot: got commit %d (%v), want snapshots written as the journal grew", seq, err)
	}
	db.Close(ctx)
	db = mustOpen(t, dir)
	if got := ids(t, db, "things"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ids after reopen: got %d of them, want %d", len(got), len(want))
	}
}

func TestJournalConvertsALungoDataFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	path := filepath.Join(dir, "forum.db")
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewFileStore(path, 0o644)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Database("forum").Collection("things").InsertMany(ctx, []any{bson.M{"_id": 1}, bson.M{"_id": 2}}); err != nil {
		t.Fatal(err)
	}
	engine.Close()

	var logs bytes.Buffer
	db, err := openTest(t, dir, nil, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "converted") {
		t.Errorf("logs: got %q, want a conversion", logs.String())
	}
	if err := insert(t, db, "things", 3); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	db = mustOpen(t, dir)
	if got := fmt.Sprint(ids(t, db, "things")); got != "[1 2 3]" {
		t.Errorf("ids: got %s, want [1 2 3]", got)
	}
}

// journalWith writes commits 1 to n, one document each, and returns the
// journal's path and the offset of each record.
func journalWith(t *testing.T, dir string, n int) (string, []int) {
	t.Helper()
	db := mustOpenOnce(t, dir)
	path := db.store.journalPath()
	var offsets []int
	for i := 1; i <= n; i++ {
		offsets = append(offsets, int(db.store.size))
		if err := insert(t, db, "things", i); err != nil {
			t.Fatal(err)
		}
	}
	db.Close(context.Background())
	return path, offsets
}

// mustOpenOnce opens a store whose first commit already happened, so that
// the next commits go to the journal rather than into a snapshot.
func mustOpenOnce(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := openTest(t, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(t, db, "things", 0); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestJournalOpensAfterDamage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		damage  func(buf []byte, offsets []int) []byte
		want    string // ids after reopening
		wantLog string
	}{
		{"torn tail", func(buf []byte, offsets []int) []byte { return buf[:len(buf)-7] }, "[0 1 2]", "torn"},
		{"torn header", func(buf []byte, offsets []int) []byte { return buf[:offsets[2]+5] }, "[0 1 2]", "torn"},
		{"flipped byte in last record", func(buf []byte, offsets []int) []byte { buf[len(buf)-3] ^= 0x40; return buf }, "[0 1 2]", "torn"},
		{"flipped length in last record", func(buf []byte, offsets []int) []byte { buf[offsets[2]] ^= 0x01; return buf }, "[0 1 2]", "torn"},
		{"zeroes after the last record", func(buf []byte, offsets []int) []byte { return append(buf, make([]byte, 4096)...) }, "[0 1 2 3]", "torn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path, offsets := journalWith(t, dir, 3)
			buf, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(buf, offsets), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			db, err := openTest(t, dir, nil, &logs)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close(context.Background())
			if got := fmt.Sprint(ids(t, db, "things")); got != tc.want {
				t.Errorf("ids: got %s, want %s", got, tc.want)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("logs: got %q, want %q", logs.String(), tc.wantLog)
			}
			if err := insert(t, db, "things", 9); err != nil {
				t.Fatalf("write after cutting the tail: %v", err)
			}
			db.Close(context.Background())
			db = mustOpen(t, dir)
			if got, want := fmt.Sprint(ids(t, db, "things")), strings.TrimSuffix(tc.want, "]")+" 9]"; got != want {
				t.Errorf("ids after a write and a reopen: got %s, want %s", got, want)
			}
		})
	}
}

func TestJournalRefusesToOpenWhenDamageIsNotAtTheTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(dir, journal string, offsets []int)
		want   string
	}{
		{"flipped byte in an earlier record", func(dir, journal string, offsets []int) {
			flip(t, journal, offsets[0]+frameHeader+4)
		}, "damaged record at offset"},
		{"flipped length of an earlier record", func(dir, journal string, offsets []int) {
			flip(t, journal, offsets[1])
		}, "damaged record at offset"},
		{"missing snapshot", func(dir, journal string, offsets []int) {
			if err := os.Remove(filepath.Join(dir, "forum.db")); err != nil {
				t.Fatal(err)
			}
		}, "snapshot"},
		{"flipped byte in the snapshot", func(dir, journal string, offsets []int) {
			flip(t, filepath.Join(dir, "forum.db"), len(snapshotMagic)+frameHeader+2)
		}, "read snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			journal, offsets := journalWith(t, dir, 3)
			tc.damage(dir, journal, offsets)
			db, err := openTest(t, dir, nil, nil)
			if err == nil {
				db.Close(context.Background())
				t.Fatal("opened a damaged store")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %q, want %q", err, tc.want)
			}
		})
	}
}

func flip(t *testing.T, path string, off int) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	buf[off] ^= 0x10
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestJournalWriteFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		writeErr    error
		short       bool
		syncErr     error
		usableAfter bool // the same store takes writes once the fault is gone
	}{
		{"full disk", syscall.ENOSPC, false, nil, true},
		{"short write on a full disk", syscall.ENOSPC, true, nil, true},
		{"failing fdatasync", nil, false, syscall.EIO, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fsys := &faultFS{}
			db, err := openTest(t, dir, fsys, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { db.Close(context.Background()) }()
			if err := insert(t, db, "things", 1, 2); err != nil {
				t.Fatal(err)
			}
			if err := insert(t, db, "things", 3); err != nil {
				t.Fatal(err)
			}
			fsys.set(tc.writeErr, tc.short, tc.syncErr)
			err = insert(t, db, "things", 4, 5, 6)
			want := tc.writeErr
			if want == nil {
				want = tc.syncErr
			}
			if !errors.Is(err, want) {
				t.Fatalf("write: got %v, want %v", err, want)
			}
			if got := fmt.Sprint(ids(t, db, "things")); got != "[1 2 3]" {
				t.Errorf("ids after the failed write: got %s, want [1 2 3]", got)
			}
			fsys.set(nil, false, nil)
			err = insert(t, db, "things", 7)
			switch {
			case tc.usableAfter && err != nil:
				t.Errorf("write after the fault: %v", err)
			case !tc.usableAfter && !errors.Is(err, ErrStoreFailed):
				t.Errorf("write after the fault: got %v, want %v", err, ErrStoreFailed)
			}
			db.Close(context.Background())
			db = mustOpen(t, dir)
			want2 := "[1 2 3]"
			if tc.usableAfter {
				want2 = "[1 2 3 7]"
			}
			if got := fmt.Sprint(ids(t, db, "things")); got != want2 {
				t.Errorf("ids after reopen: got %s, want %s", got, want2)
			}
		})
	}
}

func TestJournalFailsACommitNeedingASnapshotOnAFullDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := &faultFS{}
	db, err := openTest(t, dir, fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close(context.Background()) }()
	if err := insert(t, db, "things", 1); err != nil {
		t.Fatal(err)
	}
	fsys.set(syscall.ENOSPC, false, nil)
	if err := insert(t, db, "others", 1); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write to a new collection: got %v, want %v", err, syscall.ENOSPC)
	}
	fsys.set(nil, false, nil)
	db.Close(context.Background())
	db = mustOpen(t, dir)
	if got := fmt.Sprint(ids(t, db, "others")); got != "[]" {
		t.Errorf("ids of the new collection: got %s, want []", got)
	}
}

// crashEnv selects the helper mode of the test binary that writes until it
// is killed.
const crashEnv = "FORUM_JOURNAL_CRASH_DIR"

// TestJournalCrashWriter is not a test: run with crashEnv set, it writes
// groups of three documents, each group in one transaction, and prints each
// group's number once its commit has returned.
func TestJournalCrashWriter(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process of TestJournalSurvivesSIGKILL")
	}
	ctx := context.Background()
	db, err := OpenFileWith(ctx, filepath.Join(dir, "forum.db"), FileOptions{History: time.Minute, MaxOplog: 200, SnapshotBytes: 32 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	start, _ := strconv.Atoi(os.Getenv(crashEnv + "_START"))
	coll := db.Database.Collection("groups")
	for g := start; ; g++ {
		err := db.Client.UseSession(ctx, func(sc lungo.ISessionContext) error {
			_, err := sc.WithTransaction(sc, func(sc lungo.ISessionContext) (any, error) {
				for j := range 3 {
					if _, err := coll.InsertOne(sc, bson.M{"_id": g*3 + j, "group": g}); err != nil {
						return nil, err
					}
				}
				return nil, nil
			})
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stdout, g)
	}
}

func TestJournalSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 30 processes")
	}
	dir := t.TempDir()
	acked := map[int]bool{}
	next := 0
	for round := range 30 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCrashWriter$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		wantAcks := 1 + rand.IntN(40)
		for n := 0; n < wantAcks && lines.Scan(); n++ {
			g, err := strconv.Atoi(lines.Text())
			if err != nil {
				t.Fatalf("round %d: child printed %q", round, lines.Text())
			}
			acked[g] = true
			next = g + 1
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// Acknowledgements printed before the kill landed still count.
		for lines.Scan() {
			if g, err := strconv.Atoi(lines.Text()); err == nil {
				acked[g] = true
				next = g + 1
			}
		}
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatalf("round %d: child acknowledged nothing; stderr: %s", round, stderr.String())
		}

		s, err := openJournalStore(osFS{}, filepath.Join(dir, "forum.db"), DefaultSnapshotBytes, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("round %d: open after SIGKILL: %v", round, err)
		}
		groups := map[int]int{}
		for _, d := range s.catalog.Namespaces[lungo.Handle{"forum", "groups"}].Documents.List {
			groups[groupOf(d)]++
		}
		s.Close()
		for g := range acked {
			if groups[g] != 3 {
				t.Fatalf("round %d: acknowledged group %d has %d of 3 documents", round, g, groups[g])
			}
		}
		for g, n := range groups {
			if n != 3 {
				t.Fatalf("round %d: group %d is half applied: %d of 3 documents", round, g, n)
			}
			// A commit that was durable but not yet acknowledged when the
			// kill came is kept; the next child must not reuse its ids.
			next = max(next, g+1)
		}
	}
}

// groupOf returns the group number of a document written by the crash
// writer.
func groupOf(d bsonkit.Doc) int {
	switch g := bsonkit.Get(d, "group").(type) {
	case int32:
		return int(g)
	case int64:
		return int(g)
	}
	return -1
}

// gateFS holds the writing of a snapshot back, once armed, until released.
type gateFS struct {
	osFS
	armed   atomic.Bool
	started chan struct{} // a snapshot began
	release chan struct{}
}

func (g *gateFS) Create(name string) (storeFile, error) {
	if strings.HasSuffix(name, "forum.db.tmp") && g.armed.CompareAndSwap(true, false) {
		close(g.started)
		<-g.release
	}
	return g.osFS.Create(name)
}

// journalRecords counts the records of the journal in dir.
func journalRecords(t *testing.T, dir string) int {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join(dir, "forum.db.journal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := len(journalMagic); off < len(buf); n++ {
		_, size, ok := readFrame(buf[off:])
		if !ok {
			t.Fatalf("damaged journal record at offset %d", off)
		}
		off += size
	}
	return n
}

func TestJournalCommitsGoOnWhileASnapshotIsWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	g := &gateFS{started: make(chan struct{}), release: make(chan struct{})}
	db, err := OpenFileWith(context.Background(), filepath.Join(dir, "forum.db"), FileOptions{
		History: time.Minute, SnapshotBytes: 64 << 10, fs: g, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close(context.Background()) }()
	coll := db.Database.Collection("things")
	// A new collection is stored as a snapshot before its commit returns.
	if _, err := coll.InsertOne(context.Background(), bson.M{"_id": 0}); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	id := 1
	for snapshotting := false; !snapshotting; id++ {
		if id > 10000 {
			t.Fatal("no snapshot began after 10,000 commits")
		}
		if _, err := coll.InsertOne(context.Background(), bson.M{"_id": id, "text": strings.Repeat("x", 512)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-g.started:
			snapshotting = true
		default:
		}
	}
	before := journalRecords(t, dir)
	// The snapshot is held back: commits must not wait for it.
	committed := make(chan error, 1)
	go func() {
		for i := range 50 {
			if _, err := coll.InsertOne(context.Background(), bson.M{"_id": id + i}); err != nil {
				committed <- err
				return
			}
		}
		committed <- nil
	}()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		close(g.release)
		t.Fatal("commits waited for the snapshot being written")
	}
	close(g.release)
	if err := db.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The journal keeps only the commits the new snapshot does not hold:
	// the 50 made while it was written, and any the loop above made before
	// it saw the snapshot begin.
	if n := journalRecords(t, dir); n < 50 || n >= before {
		t.Errorf("journal after the snapshot: got %d records, want 50 or a few more, fewer than the %d before it", n, before)
	}
	db = mustOpen(t, dir)
	if got, want := len(ids(t, db, "things")), id+50; got != want {
		t.Errorf("documents after reopen: got %d, want %d", got, want)
	}
}

func TestJournalKeepsEveryCommitWhenABackgroundSnapshotFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := &faultFS{}
	var logs lockedBuffer
	db, err := OpenFileWith(context.Background(), filepath.Join(dir, "forum.db"), FileOptions{
		History: time.Minute, SnapshotBytes: 8 << 10, fs: fsys, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close(context.Background()) }()
	coll := db.Database.Collection("things")
	if _, err := coll.InsertOne(context.Background(), bson.M{"_id": -1}); err != nil {
		t.Fatal(err)
	}
	// Every write of a new file fails: the journal's appends go through
	// the handle it already has and still succeed.
	fsys.failCreate.Store(true)
	for id := range 100 {
		if _, err := coll.InsertOne(context.Background(), bson.M{"_id": id, "text": strings.Repeat("x", 512)}); err != nil {
			t.Fatalf("commit %d while snapshots fail: %v", id, err)
		}
	}
	fsys.failCreate.Store(false)
	if err := db.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "write snapshot") {
		t.Errorf("the failed snapshot was not logged; logs: %s", logs.String())
	}
	db = mustOpen(t, dir)
	if got := len(ids(t, db, "things")); got != 101 {
		t.Errorf("documents after reopen: got %d, want 101", got)
	}
}

// lockedBuffer is a buffer that the store's background snapshot and the test
// may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
