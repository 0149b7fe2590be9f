package forumtest

import (
	"context"
	"errors"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// collection is the double's collection.
type collection struct {
	lungo.ICollection
	db *database
}

var _ lungo.ICollection = (*collection)(nil)

func (c *collection) Database() lungo.IDatabase { return c.db }

func (c *collection) Clone(opts ...*options.CollectionOptions) (lungo.ICollection, error) {
	cl, err := c.ICollection.Clone(opts...)
	if err != nil {
		return nil, err
	}
	return &collection{ICollection: cl, db: c.db}, nil
}

func (c *collection) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	return open(ctx, c.db.client.IClient, c.db.Name(), c.Name(), pipeline, opts...)
}

// InsertMany inserts as lungo does, and gives the events of the insert one
// cluster time: MongoDB 8 writes the documents of one insertMany batch as one
// applyOps oplog entry, whose operations share its timestamp (MongoDB
// manual, "Change Events": clusterTime is the oplog entry's timestamp; all
// events of one applyOps entry have the same clusterTime). Inside a
// transaction the transaction groups it instead. The insert runs in a lungo
// transaction of its own only to hold lungo's write token, which keeps any
// other writer's event out of the group; lungo commits a failed document's
// predecessors in it just as without one.
func (c *collection) InsertMany(ctx context.Context, docs []any, opts ...*options.InsertManyOptions) (*mongo.InsertManyResult, error) {
	if inTransaction(ctx) {
		return c.ICollection.InsertMany(ctx, docs, opts...)
	}
	sess, err := c.db.client.IClient.StartSession()
	if err != nil {
		return nil, err
	}
	defer sess.EndSession(ctx)
	var (
		w    *write
		res  *mongo.InsertManyResult
		werr error
	)
	defer func() { w.cancel() }()
	_, err = sess.WithTransaction(ctx, func(sc lungo.ISessionContext) (any, error) {
		var err error
		if w, err = begin(c.db.client.IClient); err != nil {
			return nil, err
		}
		if res, werr = c.ICollection.InsertMany(sc, docs, opts...); res == nil {
			return nil, werr
		}
		w.close()
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return res, errors.Join(werr, w.finish())
}

// session is the double's session: the writes of a transaction committed
// through it share one cluster time, as they do on MongoDB, which writes a
// multi-document transaction as one applyOps oplog entry (MongoDB manual,
// "Change Events": events of one transaction share clusterTime and differ
// in their resume tokens).
type session struct {
	lungo.ISession
	client *client
	txn    *write // of the transaction begun with StartTransaction
}

var _ lungo.ISession = (*session)(nil)

func (s *session) Client() lungo.IClient { return s.client }

func (s *session) StartTransaction(opts ...*options.TransactionOptions) error {
	if err := s.ISession.StartTransaction(opts...); err != nil {
		return err
	}
	w, err := begin(s.client.IClient)
	if err != nil {
		return errors.Join(err, s.ISession.AbortTransaction(context.Background()))
	}
	s.txn = w
	return nil
}

func (s *session) CommitTransaction(ctx context.Context) error {
	w := s.txn
	s.txn = nil
	w.close()
	if err := s.ISession.CommitTransaction(ctx); err != nil {
		w.cancel()
		return err
	}
	return w.finish()
}

func (s *session) AbortTransaction(ctx context.Context) error {
	s.txn.cancel()
	s.txn = nil
	return s.ISession.AbortTransaction(ctx)
}

func (s *session) EndSession(ctx context.Context) {
	s.txn.cancel()
	s.txn = nil
	s.ISession.EndSession(ctx)
}

func (s *session) WithTransaction(ctx context.Context, fn func(lungo.ISessionContext) (any, error), opts ...*options.TransactionOptions) (any, error) {
	var w *write
	defer func() { w.cancel() }()
	res, err := s.ISession.WithTransaction(ctx, func(sc lungo.ISessionContext) (any, error) {
		var err error
		if w, err = begin(s.client.IClient); err != nil {
			return nil, err
		}
		res, err := fn(s.context(sc))
		if err != nil {
			return nil, err
		}
		w.close()
		return res, nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	return res, w.finish()
}

// context returns a session context that lungo's operations see as sc and
// the double sees as s.
func (s *session) context(sc context.Context) lungo.ISessionContext {
	return &sessionContext{Context: sc, session: s}
}

// sessionKey finds the double's session in a context.
type sessionKey struct{}

// sessionContext is the double's session context.
type sessionContext struct {
	context.Context
	*session
}

func (c *sessionContext) Value(key any) any {
	if key == (sessionKey{}) {
		return c.session
	}
	return c.Context.Value(key)
}

// transactor is what lungo's sessions and session contexts tell of their
// transaction.
type transactor interface {
	Transaction() *lungo.Transaction
}

// inTransaction reports whether ctx runs in a lungo transaction, through
// the double's session or lungo's own session context.
func inTransaction(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	var s any = ctx
	if ds, ok := ctx.Value(sessionKey{}).(*session); ok {
		s = ds.ISession
	}
	t, ok := s.(transactor)
	return ok && t.Transaction() != nil
}
