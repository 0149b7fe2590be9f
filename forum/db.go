package forum

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// DB is an open database: the embedded lungo store, or a MongoDB deployment.
type DB struct {
	Client   lungo.IClient
	Database lungo.IDatabase
	// Topology describes the MongoDB deployment Connect reached, for the
	// caller to log; it is empty for the embedded store.
	Topology string
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
	if store.snapSize >= freeAfterOpen {
		// Decoding the snapshot leaves about twice the data's memory as
		// garbage, which the runtime gives back to the system only slowly:
		// at 100,000 posts the process held 2.1 to 2.3 GB once open, and
		// holds 1.5 then (the collector lets the heap grow to twice the
		// live data between collections).
		debug.FreeOSMemory()
	}
	return &DB{Client: client, Database: client.Database("forum"), engine: engine, store: store, lock: lock}, nil
}

// freeAfterOpen is the snapshot size from which opening hands the memory
// that decoding it took back to the system at once.
const freeAfterOpen = 64 << 20

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

// OplogStart returns the cluster time of the oldest change the embedded
// store's oplog still holds: change streams cannot start before it, and
// lungo, unlike MongoDB (error 286), starts at it silently when asked for an
// earlier time. It returns false on MongoDB and for an empty oplog.
func (d *DB) OplogStart() (primitive.Timestamp, bool) {
	if d.engine == nil {
		return primitive.Timestamp{}, false
	}
	oplog := d.engine.Catalog().Namespaces[lungo.Oplog]
	if oplog == nil || len(oplog.Documents.List) == 0 {
		return primitive.Timestamp{}, false
	}
	ts, ok := bsonkit.Get(oplog.Documents.List[0], "clusterTime").(primitive.Timestamp)
	return ts, ok
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

// connectTimeout bounds finding and questioning the deployment at start.
const connectTimeout = 10 * time.Second

// Connect connects to the MongoDB deployment at uri and uses the database
// called name. It refuses a deployment without change streams, that is a
// standalone server, and describes the one it reached in DB.Topology.
//
// Writes and reads are majority-acknowledged whatever uri says: change streams
// report only majority-committed writes, so a write acknowledged sooner (the
// default of a replica set with an arbiter is w:1) could be shown to its
// author and then lost in a failover without any stream having reported it.
// Operations are bounded by their contexts (the store bounds every write)
// rather than by a client-wide timeout, which would also cut the change
// streams' long-polling reads.
func Connect(ctx context.Context, uri, name string) (*DB, error) {
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Majority()).
		SetServerSelectionTimeout(connectTimeout)
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("MongoDB URI: %w", err)
	}
	host := strings.Join(opts.Hosts, ",")
	client, err := lungo.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB at %s: %w", host, err)
	}
	hctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var h hello
	if err := client.Database("admin").RunCommand(hctx, bson.D{{Key: "hello", Value: 1}}).Decode(&h); err != nil {
		client.Disconnect(ctx)
		return nil, fmt.Errorf("reach MongoDB at %s: %w", host, err)
	}
	topology, err := checkTopology(host, h)
	if err != nil {
		client.Disconnect(ctx)
		return nil, err
	}
	return &DB{Client: client, Database: client.Database(name), Topology: topology}, nil
}

// hello is the part of a server's reply to the hello command that tells what
// kind of deployment it belongs to.
type hello struct {
	IsWritablePrimary bool   `bson:"isWritablePrimary"`
	Secondary         bool   `bson:"secondary"`
	ArbiterOnly       bool   `bson:"arbiterOnly"`
	SetName           string `bson:"setName"`
	Primary           string `bson:"primary"`
	Me                string `bson:"me"`
	// Msg is "isdbgrid" from a mongos.
	Msg string `bson:"msg"`
}

// checkTopology decides from a hello reply whether the server at host can
// carry the forum, which needs change streams and a primary to write to, and
// describes the deployment.
func checkTopology(host string, h hello) (string, error) {
	const see = "the forum needs a replica set or a sharded cluster (change streams): see README 'Running on MongoDB'"
	switch {
	case h.Msg == "isdbgrid":
		return fmt.Sprintf("sharded cluster through mongos at %s", host), nil
	case h.SetName == "":
		return "", fmt.Errorf("MongoDB at %s is a standalone server; %s", host, see)
	case h.IsWritablePrimary:
		return fmt.Sprintf("replica set %s, primary %s", h.SetName, cmp.Or(h.Primary, h.Me, host)), nil
	case h.ArbiterOnly:
		return "", fmt.Errorf("MongoDB at %s is an arbiter of replica set %s and holds no data; connect to the replica set's data-bearing members", host, h.SetName)
	case h.Secondary:
		return "", fmt.Errorf("MongoDB at %s is a secondary of replica set %s (primary: %s) and takes no writes; connect to the replica set without directConnection", host, h.SetName, cmp.Or(h.Primary, "none"))
	default:
		return "", fmt.Errorf("MongoDB at %s is a member of replica set %s that is neither primary nor secondary (starting, recovering or removed)", host, h.SetName)
	}
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
