// Package forumtest holds a test double that makes the embedded lungo store
// behave the way a MongoDB replica set and its Go driver do where lungo
// differs: change-stream batches and waits, shared cluster times, opaque
// resume tokens, post-batch resume tokens, invalidation, lost history and
// full documents.
package forumtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"golang.org/x/crypto/bcrypt"

	"forum/forum"
)

// envDouble is the environment variable that turns the double on.
const envDouble = "FORUM_TEST_DOUBLE"

// UseDouble reports whether FORUM_TEST_DOUBLE=mongo asks for the double.
// OpenFile fails the test on any other non-empty value, so that a typo does
// not quietly test plain lungo.
func UseDouble() bool {
	return os.Getenv(envDouble) == "mongo"
}

// checkEnv returns an error for a value of FORUM_TEST_DOUBLE that means
// neither lungo nor the double.
func checkEnv() error {
	if v := os.Getenv(envDouble); v != "" && v != "mongo" {
		return fmt.Errorf("%s=%q: want \"mongo\" or nothing", envDouble, v)
	}
	return nil
}

// FastPasswords is the tests' store option: passwords hashed at bcrypt's
// least cost. Each step of the cost doubles the time a sign-up or a
// sign-in takes, and one hash at the default cost takes over a second
// under the race detector: it had been most of the test suites' time.
func FastPasswords() forum.StoreOption {
	return forum.WithPasswordCost(bcrypt.MinCost)
}

// Mode names the database tests run on, for log lines.
func Mode() string {
	if UseDouble() {
		return "mongo double"
	}
	return "lungo"
}

// OpenFile opens the embedded store at path with forum.OpenFile and, when
// UseDouble, wraps it in the double. The caller closes it: tests reopen the
// same path after a close to simulate restarts.
func OpenFile(t testing.TB, path string, history time.Duration) *forum.DB {
	t.Helper()
	if err := checkEnv(); err != nil {
		t.Fatal(err)
	}
	db, err := forum.OpenFile(context.Background(), path, history)
	if err != nil {
		t.Fatal(err)
	}
	if UseDouble() {
		return Wrap(db)
	}
	return db
}

// Wrap returns db with its client and database replaced by the double; its
// Close still closes the store.
func Wrap(db *forum.DB) *forum.DB {
	w := *db
	w.Client = WrapClient(db.Client)
	w.Database = w.Client.Database(db.Database.Name())
	return &w
}

// WrapClient returns the double around a lungo client.
func WrapClient(c lungo.IClient) lungo.IClient {
	return &client{IClient: c}
}

// client is the double's client: databases, sessions and streams it hands
// out are the double's too.
type client struct {
	lungo.IClient
}

var _ lungo.IClient = (*client)(nil)

func (c *client) Database(name string, opts ...*options.DatabaseOptions) lungo.IDatabase {
	return &database{IDatabase: c.IClient.Database(name, opts...), client: c}
}

func (c *client) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	return open(ctx, c.IClient, "", "", pipeline, opts...)
}

func (c *client) StartSession(opts ...*options.SessionOptions) (lungo.ISession, error) {
	s, err := c.IClient.StartSession(opts...)
	if err != nil {
		return nil, err
	}
	return &session{ISession: s, client: c}, nil
}

func (c *client) UseSession(ctx context.Context, fn func(lungo.ISessionContext) error) error {
	return c.UseSessionWithOptions(ctx, options.Session(), fn)
}

func (c *client) UseSessionWithOptions(ctx context.Context, opts *options.SessionOptions, fn func(lungo.ISessionContext) error) error {
	return c.IClient.UseSessionWithOptions(ctx, opts, func(sc lungo.ISessionContext) error {
		s := &session{ISession: sc, client: c}
		return fn(s.context(sc))
	})
}

// database is the double's database.
type database struct {
	lungo.IDatabase
	client *client
}

var _ lungo.IDatabase = (*database)(nil)

func (d *database) Client() lungo.IClient { return d.client }

func (d *database) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	return &collection{ICollection: d.IDatabase.Collection(name, opts...), db: d}
}

func (d *database) Watch(ctx context.Context, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	return open(ctx, d.client.IClient, d.Name(), "", pipeline, opts...)
}
