package forum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// DB is an open database: the embedded lungo store, or a MongoDB deployment.
type DB struct {
	Client   lungo.IClient
	Database lungo.IDatabase
	engine   *lungo.Engine
	store    *journalStore
	lock     *os.File
}

// ErrLocked is returned when another process has the data file open.
var ErrLocked = errors.New("data file is in use by another process")

// OpenFile opens the embedded store kept in the file at path, creating its
// folder if needed. A lock file beside it keeps a second process out. The
// store's oplog keeps at least history of changes (or its last
// DefaultMaxOplog changes, if fewer), for change streams to resume from.
func OpenFile(ctx context.Context, path string, history time.Duration) (*DB, error) {
	return OpenFileWith(ctx, path, FileOptions{History: history})
}

// Defaults of FileOptions.
const (
	// DefaultMaxOplog bounds the oplog: lungo copies the whole oplog on
	// every write, so its size is paid by each one.
	DefaultMaxOplog = 2000
	// MinOplog is how many changes the oplog keeps however old they are.
	MinOplog = 1000
	// DefaultSnapshotBytes is how large the journal grows, at least, before
	// a snapshot replaces it.
	DefaultSnapshotBytes = 64 << 20
)

// FileOptions tunes the embedded store opened by OpenFileWith.
type FileOptions struct {
	// History is how long the oplog keeps changes for change streams to
	// resume from, within MaxOplog changes.
	History time.Duration
	// MaxOplog is the most changes the oplog keeps; zero means
	// DefaultMaxOplog.
	MaxOplog int
	// SnapshotBytes is the journal size past which (and past the
	// snapshot's size) a new snapshot is written; zero means
	// DefaultSnapshotBytes.
	SnapshotBytes int64
	// Logger reports conversions, torn journal tails and failed snapshots;
	// nil means slog.Default().
	Logger *slog.Logger

	fs storeFS
}

// OpenFileWith is OpenFile with more knobs. The data is kept as a snapshot
// at path and a journal of the commits since at path+".journal" (see
// journalStore); a data file in lungo's own single-file format is converted.
func OpenFileWith(ctx context.Context, path string, opts FileOptions) (*DB, error) {
	if opts.MaxOplog <= 0 {
		opts.MaxOplog = DefaultMaxOplog
	}
	if opts.SnapshotBytes <= 0 {
		opts.SnapshotBytes = DefaultSnapshotBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.fs == nil {
		opts.fs = osFS{}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s (lock %s)", ErrLocked, path, path+".lock")
	}
	store, err := openJournalStore(opts.fs, path, opts.SnapshotBytes, opts.Logger)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	client, engine, err := lungo.Open(ctx, engineOptions(store, opts.History, opts.MaxOplog))
	if err != nil {
		store.Close()
		lock.Close()
		return nil, fmt.Errorf("open data file %s: %w", path, err)
	}
	waitPastOplog(engine)
	return &DB{Client: client, Database: client.Database("forum"), engine: engine, store: store, lock: lock}, nil
}

// engineOptions returns lungo's options for store with an oplog that keeps
// history, within maxOplog changes.
func engineOptions(store lungo.Store, history time.Duration, maxOplog int) lungo.Options {
	return lungo.Options{
		Store: store,
		// lungo drops an entry only past MinOplogSize and older than
		// MinOplogAge, and then only past MaxOplogSize or older than
		// MaxOplogAge. A MinOplogAge below a second keeps only the current
		// second's entries safe (a commit's own entries, which the journal
		// relies on), so that MaxOplogSize bounds the oplog however fast
		// writes come; MaxOplogAge then trims what no resuming client needs.
		MinOplogSize: min(MinOplog, maxOplog),
		MaxOplogSize: maxOplog,
		MinOplogAge:  time.Nanosecond,
		MaxOplogAge:  max(time.Second, history),
	}
}

// waitPastOplog waits until the wall clock has left the second of the newest
// oplog entry. lungo numbers changes by second and a per-process counter, so
// a process that restarts within that second would give its first changes
// cluster times at or below ones already stored, and change-stream readers
// would take them for changes they have seen.
func waitPastOplog(engine *lungo.Engine) {
	oplog := engine.Catalog().Namespaces[lungo.Oplog]
	if oplog == nil || len(oplog.Documents.List) == 0 {
		return
	}
	last := oplog.Documents.List[len(oplog.Documents.List)-1]
	ts, ok := bsonkit.Get(last, "clusterTime").(primitive.Timestamp)
	if !ok {
		return
	}
	if d := time.Until(time.Unix(int64(ts.T)+1, 0)); d > 0 && d <= time.Second {
		time.Sleep(d)
	}
}

// Connect connects to the MongoDB deployment at uri, which must be a replica
// set for change streams, and uses the database called name.
func Connect(ctx context.Context, uri, name string) (*DB, error) {
	client, err := lungo.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx, nil); err != nil {
		client.Disconnect(ctx)
		return nil, fmt.Errorf("reach MongoDB: %w", err)
	}
	return &DB{Client: client, Database: client.Database(name)}, nil
}

// Close closes the database and releases the data file.
func (d *DB) Close(ctx context.Context) error {
	err := d.Client.Disconnect(ctx)
	if d.engine != nil {
		d.engine.Close()
	}
	if d.store != nil {
		if cerr := d.store.Close(); err == nil {
			err = cerr
		}
	}
	if d.lock != nil {
		d.lock.Close()
	}
	return err
}
