package forum

import (
	"context"
	"log/slog"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// OpenMemory opens lungo's memory store with the data of the store at path
// and the oplog bounds OpenFile sets, plus fill oplog entries, so that
// benchmarks compare the two stores on the same data.
func OpenMemory(ctx context.Context, path string, history time.Duration, maxOplog, fill int) (*DB, error) {
	s, err := openJournalStore(osFS{}, path, DefaultSnapshotBytes, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	catalog := s.catalog
	s.Close()
	oplog := catalog.Namespaces[lungo.Oplog]
	for i := range fill {
		// Entries from a second ago and within history stay until they
		// are more than maxOplog.
		ts := primitive.Timestamp{T: uint32(time.Now().Unix() - 1), I: uint32(i + 1)}
		oplog.Documents.Add(bsonkit.MustConvert(bson.M{
			"_id": bson.M{"ts": ts}, "clusterTime": ts, "operationType": "insert",
			"ns":           bson.M{"db": "forum", "coll": "filler"},
			"documentKey":  bson.M{"_id": primitive.NewObjectID()},
			"fullDocument": bson.M{"title": "A title of some length", "body": "A body of a few sentences, as posts have."},
		}))
	}
	ms := lungo.NewMemoryStore()
	if err := ms.Store(catalog); err != nil {
		return nil, err
	}
	client, engine, err := lungo.Open(ctx, engineOptions(ms, history, maxOplog))
	if err != nil {
		return nil, err
	}
	return &DB{Client: client, Database: client.Database("forum"), engine: engine}, nil
}
