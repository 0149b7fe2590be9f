package forum

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
	"golang.org/x/crypto/bcrypt"
)

// Page sizes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// CommentPageSize is how many comments a thread page shows, and the
	// API's default.
	CommentPageSize = 50
)

// writeTimeout bounds every write the store makes. Writes do not follow the
// caller's cancellation (see detach), so this is what stops a write that
// cannot finish, for instance while a replica set has no primary.
const writeTimeout = 10 * time.Second

// metaCollection keeps the store's own bookkeeping, such as which one-time
// migrations have run. No change stream watches it.
const metaCollection = "meta"

// participantsMigration names the one-time backfill of posts' participants.
const participantsMigration = "participants"

// activityMigration names the one-time backfill of posts' last activity.
const activityMigration = "lastActivity"

// Index names that earlier versions created. Their keys were prefixes of the
// sorts that use them, so the sorts' trailing _id was done in memory; NewStore
// drops them so an existing store does not keep both.
var oldIndexes = map[string][]string{
	CommentsCollection:      {"postId_1_createdAt_1"},
	NotificationsCollection: {"userId_1_createdAt_-1"},
}

// txnOptions are those of every transaction: snapshot reads and a majority
// write concern, so that a committed action survives a failover and change
// streams, which see only majority-committed writes, report it.
var txnOptions = options.Transaction().
	SetReadConcern(readconcern.Snapshot()).
	SetWriteConcern(writeconcern.Majority()).
	SetReadPreference(readpref.Primary())

// postWithoutParticipants leaves the participants out of posts read for
// display: a busy thread's list can be long, and only CreateComment needs it.
var postWithoutParticipants = bson.M{"participants": 0}

// Store keeps users, posts, comments, notifications and sessions in a database reached
// through lungo's driver interfaces.
type Store struct {
	db            lungo.IDatabase
	users         lungo.ICollection
	posts         lungo.ICollection
	comments      lungo.ICollection
	notifications lungo.ICollection
	sessions      lungo.ICollection
	// compare checks a password against a hash; tests count its calls.
	compare func(hash, password []byte) error
	// cost is the bcrypt cost of new password hashes.
	cost int
	// dummyHash is compared against when no user has the name, so that an
	// unknown name takes as long as a wrong password and sign-in time does
	// not tell which names exist. Its cost is that of new hashes.
	dummyHash func() []byte
}

// DefaultPasswordCost is the bcrypt cost of new password hashes unless
// WithPasswordCost says otherwise: bcrypt's default.
const DefaultPasswordCost = bcrypt.DefaultCost

// StoreOption changes how a Store works.
type StoreOption func(*Store)

// WithPasswordCost sets the bcrypt cost of new password hashes, from
// bcrypt.MinCost (4) to bcrypt.MaxCost (31); each step doubles the time a
// hash takes, for the forum and for whoever tries passwords against a
// stolen hash. Hashes keep the cost they were made with: a stored
// password still signs in after the cost changes.
func WithPasswordCost(cost int) StoreOption {
	return func(s *Store) { s.cost = cost }
}

// NewStore returns a store over db and creates the indexes its queries use.
func NewStore(ctx context.Context, db lungo.IDatabase, opts ...StoreOption) (*Store, error) {
	s := &Store{
		db:            db,
		users:         db.Collection(UsersCollection),
		posts:         db.Collection(PostsCollection),
		comments:      db.Collection(CommentsCollection),
		notifications: db.Collection(NotificationsCollection),
		sessions:      db.Collection(SessionsCollection),
		compare:       bcrypt.CompareHashAndPassword,
		cost:          DefaultPasswordCost,
	}
	for _, o := range opts {
		o(s)
	}
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("password cost %d is not from %d to %d", s.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	s.dummyHash = sync.OnceValue(func() []byte {
		h, err := bcrypt.GenerateFromPassword(prehash(rand.Text()), s.cost)
		if err != nil {
			panic(fmt.Sprintf("hash dummy password: %v", err))
		}
		return h
	})
	if err := s.createIndexes(ctx); err != nil {
		return nil, err
	}
	if err := s.backfillParticipants(ctx); err != nil {
		return nil, err
	}
	if err := s.backfillActivity(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// createIndexes creates the indexes the store's queries use, each matching
// its query's sort key for key so that no sort is done in memory, and drops
// the indexes of earlier versions.
func (s *Store) createIndexes(ctx context.Context) error {
	indexes := []struct {
		coll  lungo.ICollection
		model mongo.IndexModel
	}{
		{s.users, mongo.IndexModel{Keys: bson.D{{Key: "nameKey", Value: 1}}, Options: options.Index().SetUnique(true)}},
		{s.users, mongo.IndexModel{Keys: bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		{s.posts, mongo.IndexModel{Keys: bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		{s.posts, mongo.IndexModel{Keys: bson.D{{Key: "lastActivityAt", Value: -1}, {Key: "_id", Value: -1}}}},
		{s.posts, mongo.IndexModel{Keys: bson.D{{Key: "authorId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		{s.comments, mongo.IndexModel{Keys: bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}}},
		{s.comments, mongo.IndexModel{Keys: bson.D{{Key: "authorId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		// Stats subtracts the deleted, which these partial indexes count
		// without a scan; they hold only deleted items.
		{s.posts, mongo.IndexModel{Keys: bson.D{{Key: "deletedAt", Value: 1}}, Options: deletedOnly()}},
		{s.comments, mongo.IndexModel{Keys: bson.D{{Key: "deletedAt", Value: 1}}, Options: deletedOnly()}},
		{s.notifications, mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		// UnreadCount is answered from this index alone.
		{s.notifications, mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}, {Key: "read", Value: 1}}}},
		// EndSessions deletes by user; the TTL index removes expired
		// sessions (MongoDB within a minute, lungo every minute).
		{s.sessions, mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}}}},
		{s.sessions, mongo.IndexModel{Keys: bson.D{{Key: "expiresAt", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)}},
	}
	for _, ix := range indexes {
		if _, err := ix.coll.Indexes().CreateOne(ctx, ix.model); err != nil {
			return fmt.Errorf("create index on %s: %w", ix.coll.Name(), err)
		}
	}
	for coll, names := range oldIndexes {
		if err := dropIndexes(ctx, s.db.Collection(coll), names); err != nil {
			return err
		}
	}
	return nil
}

// dropIndexes drops those of the named indexes that coll has. Both back ends
// fail to drop an index that does not exist, hence the listing first.
func dropIndexes(ctx context.Context, coll lungo.ICollection, names []string) error {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", coll.Name(), err)
	}
	var have []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &have); err != nil {
		return fmt.Errorf("list indexes of %s: %w", coll.Name(), err)
	}
	for _, h := range have {
		for _, n := range names {
			if h.Name != n {
				continue
			}
			if _, err := coll.Indexes().DropOne(ctx, n); err != nil {
				return fmt.Errorf("drop index %s of %s: %w", n, coll.Name(), err)
			}
		}
	}
	return nil
}

// backfillParticipants gives every post stored before posts kept their
// participants the list of its commenters, once: a marker in the meta
// collection records that it ran, so that later starts cost one lookup
// instead of a scan of all posts. The commenters are added to the set rather
// than set, so a comment that another instance makes meanwhile, which adds its
// author itself, is kept, and two instances starting together agree.
func (s *Store) backfillParticipants(ctx context.Context) error {
	meta := s.db.Collection(metaCollection)
	err := meta.FindOne(ctx, bson.M{"_id": participantsMigration}).Err()
	if err == nil {
		return nil
	} else if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("check migration %s: %w", participantsMigration, err)
	}
	var missing []struct {
		ID primitive.ObjectID `bson:"_id"`
	}
	opts := options.Find().SetProjection(bson.M{"_id": 1})
	if err := s.findAll(ctx, s.posts, bson.M{"participants": bson.M{"$exists": false}}, opts, &missing); err != nil {
		return fmt.Errorf("find posts without participants: %w", err)
	}
	for _, p := range missing {
		ids, err := s.commenters(ctx, p.ID)
		if err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": p.ID}, bson.M{"$addToSet": bson.M{"participants": bson.M{"$each": ids}}}); err != nil {
			return fmt.Errorf("backfill participants of %s: %w", p.ID.Hex(), err)
		}
	}
	if _, err := meta.InsertOne(ctx, bson.M{"_id": participantsMigration, "at": now()}); err != nil && !lungo.IsUniquenessError(err) {
		return fmt.Errorf("record migration %s: %w", participantsMigration, err)
	}
	return nil
}

// backfillActivity gives every post stored before posts kept their last
// activity the time of its latest comment, or its own, once, with a marker
// as backfillParticipants has. $max keeps a newer time that a comment
// made meanwhile has set.
func (s *Store) backfillActivity(ctx context.Context) error {
	meta := s.db.Collection(metaCollection)
	err := meta.FindOne(ctx, bson.M{"_id": activityMigration}).Err()
	if err == nil {
		return nil
	} else if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("check migration %s: %w", activityMigration, err)
	}
	var missing []struct {
		ID        primitive.ObjectID `bson:"_id"`
		CreatedAt time.Time          `bson:"createdAt"`
	}
	opts := options.Find().SetProjection(bson.M{"_id": 1, "createdAt": 1})
	if err := s.findAll(ctx, s.posts, bson.M{"lastActivityAt": bson.M{"$exists": false}}, opts, &missing); err != nil {
		return fmt.Errorf("find posts without last activity: %w", err)
	}
	for _, p := range missing {
		at, err := s.lastActivity(ctx, p.ID, p.CreatedAt)
		if err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": p.ID}, bson.M{"$max": bson.M{"lastActivityAt": at}}); err != nil {
			return fmt.Errorf("backfill last activity of %s: %w", p.ID.Hex(), err)
		}
	}
	if _, err := meta.InsertOne(ctx, bson.M{"_id": activityMigration, "at": now()}); err != nil && !lungo.IsUniquenessError(err) {
		return fmt.Errorf("record migration %s: %w", activityMigration, err)
	}
	return nil
}

// lastActivity returns when the latest comment of a post that is not
// deleted was written, or created when it has none.
func (s *Store) lastActivity(ctx context.Context, postID primitive.ObjectID, created time.Time) (time.Time, error) {
	var latest []*Comment
	opts := options.Find().SetSort(bson.D{{Key: "postId", Value: -1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(1).SetProjection(bson.M{"createdAt": 1})
	if err := s.findAll(ctx, s.comments, bson.M{"postId": postID, "deletedAt": notDeleted}, opts, &latest); err != nil {
		return time.Time{}, fmt.Errorf("find latest comment of %s: %w", postID.Hex(), err)
	}
	if len(latest) == 0 || latest[0].CreatedAt.Before(created) {
		return created, nil
	}
	return latest[0].CreatedAt, nil
}

// detach returns the context a write runs under: ctx's values without its
// cancellation, bounded by writeTimeout. A client that hangs up cancels its
// request's context. A transaction that followed it would be aborted as a
// whole, which is safe but drops an action the person may believe they sent;
// a single write could be cut off with no one knowing whether it landed.
// The store detaches rather than each handler because every caller, the web
// handlers and the seeder alike, needs the same guarantee.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}

// inTransaction runs fn as one multi-document transaction, detached from ctx's
// cancellation: all of fn's writes are applied or none. fn must use the
// context it is given, which carries the transaction, and may run more than
// once, as MongoDB retries transactions that conflict with another.
func (s *Store) inTransaction(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	return s.db.Client().UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
			return nil, fn(tc)
		}, txnOptions)
		return err
	})
}

// Database returns the database the store keeps its collections in.
func (s *Store) Database() lungo.IDatabase { return s.db }

// Register creates a user.
func (s *Store) Register(ctx context.Context, name, password string) (*User, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	key := strings.ToLower(name)
	// The count spares the hashing for a name that is plainly taken; the
	// unique index on nameKey decides between two registrations that race.
	n, err := s.users.CountDocuments(ctx, bson.M{"nameKey": key})
	if err != nil {
		return nil, fmt.Errorf("check name %s: %w", name, err)
	}
	if n > 0 {
		return nil, nameTaken(name)
	}
	hash, err := bcrypt.GenerateFromPassword(prehash(password), s.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u := &User{ID: primitive.NewObjectID(), Name: name, NameKey: key, PasswordHash: hash, CreatedAt: now()}
	wctx, cancel := detach(ctx)
	defer cancel()
	if _, err := s.users.InsertOne(wctx, u); err != nil {
		if lungo.IsUniquenessError(err) {
			return nil, nameTaken(name)
		}
		return nil, fmt.Errorf("insert user %s: %w", name, err)
	}
	return u, nil
}

// prehash turns a password of any length into bcrypt's input, which bcrypt
// would otherwise cut at 72 bytes: the base64 of its SHA-256, which has no
// NUL bytes either.
func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

func nameTaken(name string) error {
	return Errorf(ECONFLICT, "The name %q is already taken.", name)
}

// Authenticate returns the user with this name and password.
func (s *Store) Authenticate(ctx context.Context, name, password string) (*User, error) {
	wrong := Errorf(EUNAUTHORIZED, "Wrong name or password.")
	if !utf8Valid(name, password) || len(name) > MaxNameLen*4 || len(password) > MaxPasswordBytes {
		return nil, wrong
	}
	var u User
	err := s.users.FindOne(ctx, bson.M{"nameKey": strings.ToLower(name)}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		s.compare(s.dummyHash(), prehash(password))
		return nil, wrong
	} else if err != nil {
		return nil, fmt.Errorf("find user %s: %w", name, err)
	}
	if s.compare(u.PasswordHash, prehash(password)) != nil {
		return nil, wrong
	}
	return &u, nil
}

// User returns the user with this id.
func (s *Store) User(ctx context.Context, id primitive.ObjectID) (*User, error) {
	var u User
	if err := s.findOne(ctx, s.users, id, "user", &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *Store) findOne(ctx context.Context, coll lungo.ICollection, id primitive.ObjectID, what string, out any, opts ...*options.FindOneOptions) error {
	err := coll.FindOne(ctx, bson.M{"_id": id}, opts...).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Errorf(ENOTFOUND, "No %s with id %s.", what, id.Hex())
	} else if err != nil {
		return fmt.Errorf("find %s %s: %w", what, id.Hex(), err)
	}
	return nil
}

// CreatePost publishes a post by author.
func (s *Store) CreatePost(ctx context.Context, author *User, title, body string) (*Post, error) {
	if err := checkWriter(author); err != nil {
		return nil, err
	}
	title, err := CleanText("Title", title, MaxTitleLen)
	if err != nil {
		return nil, err
	}
	body, err = CleanText("Body", body, MaxPostBodyLen)
	if err != nil {
		return nil, err
	}
	p := &Post{ID: primitive.NewObjectID(), Title: title, Body: body, Author: author.Name, AuthorID: author.ID, CreatedAt: now()}
	p.LastActivityAt = p.CreatedAt
	docs, err := s.postNotifications(ctx, author, p)
	if err != nil {
		return nil, err
	}
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.posts.InsertOne(ctx, PostDocument(p, nil)); err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		return s.insertNotifications(ctx, docs)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Post returns the post with this id; a deleted post is not found.
func (s *Store) Post(ctx context.Context, id primitive.ObjectID) (*Post, error) {
	var p Post
	if err := s.findOne(ctx, s.posts, id, "post", &p, options.FindOne().SetProjection(postWithoutParticipants)); err != nil {
		return nil, err
	}
	if p.DeletedAt != nil {
		return nil, Errorf(ENOTFOUND, "No post with id %s.", id.Hex())
	}
	return &p, nil
}

// Orders of the list of posts.
const (
	SortNew      = "new"      // newest first
	SortActivity = "activity" // latest activity first
)

// Posts returns up to limit posts that are not deleted, in order sort
// (SortNew or SortActivity). When before is not the nil id, only the
// posts after that post in that order are returned; it may since have
// been deleted, and still marks its place.
func (s *Store) Posts(ctx context.Context, sort string, limit int, before primitive.ObjectID) ([]*Post, error) {
	return s.listPosts(ctx, sort, limit, before, false)
}

// PostsAfter returns the up to limit posts just before the post after in
// order sort, in that order: the page before the one that starts with after.
func (s *Store) PostsAfter(ctx context.Context, sort string, limit int, after primitive.ObjectID) ([]*Post, error) {
	posts, err := s.listPosts(ctx, sort, limit, after, true)
	slices.Reverse(posts)
	return posts, err
}

// listPosts lists posts in order sort from the post from (the nil id: from
// the start), going back in that order when back is set.
func (s *Store) listPosts(ctx context.Context, sort string, limit int, from primitive.ObjectID, back bool) ([]*Post, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	key := "createdAt"
	switch sort {
	case SortNew:
	case SortActivity:
		key = "lastActivityAt"
	default:
		return nil, Errorf(EINVALID, "Sort posts by %q or %q.", SortNew, SortActivity)
	}
	dir, op := -1, "$lt"
	if back {
		dir, op = 1, "$gt"
	}
	filter := bson.M{"deletedAt": notDeleted}
	if !from.IsZero() {
		var b bson.M
		err := s.posts.FindOne(ctx, bson.M{"_id": from}, options.FindOne().SetProjection(bson.M{key: 1})).Decode(&b)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, Errorf(ENOTFOUND, "No post with id %s.", from.Hex())
		} else if err != nil {
			return nil, fmt.Errorf("find post %s: %w", from.Hex(), err)
		}
		filter["$or"] = bson.A{
			bson.M{key: bson.M{op: b[key]}},
			bson.M{key: b[key], "_id": bson.M{op: from}},
		}
	}
	opts := options.Find().SetSort(bson.D{{Key: key, Value: dir}, {Key: "_id", Value: dir}}).SetLimit(int64(limit)).SetProjection(postWithoutParticipants)
	posts := []*Post{}
	if err := s.findAll(ctx, s.posts, filter, opts, &posts); err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	return posts, nil
}

func (s *Store) findAll(ctx context.Context, coll lungo.ICollection, filter any, opts *options.FindOptions, out any) error {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// postDoc is a post as stored: its participants, the ids of everyone who
// commented on it, are kept beside the fields a Post shows.
type postDoc struct {
	*Post        `bson:",inline"`
	Participants []primitive.ObjectID `bson:"participants"`
}

// PostDocument returns p as the store keeps it, with the ids of everyone
// who commented on it, for writers that insert posts in bulk (seed). The
// list is stored empty rather than missing, which would mark the post for
// the backfill.
func PostDocument(p *Post, participants []primitive.ObjectID) any {
	if participants == nil {
		participants = []primitive.ObjectID{}
	}
	if p.LastActivityAt.IsZero() {
		p.LastActivityAt = p.CreatedAt
	}
	return postDoc{Post: p, Participants: participants}
}

// A CommentOption sets something of a new comment.
type CommentOption func(*Comment)

// ReplyTo makes a new comment a reply to the comment with this id, which
// must be on the same post. The nil id makes no reply.
func ReplyTo(id primitive.ObjectID) CommentOption {
	return func(c *Comment) { c.ReplyTo = id }
}

// CreateComment adds a comment by author to a post, and notifies the post's
// author, everyone who commented on it before, the author of the comment it
// replies to and those it mentions, except author (see commentRecipients).
// The comment, the post's count and participants, and the notifications are
// written in one transaction: all of them or none.
func (s *Store) CreateComment(ctx context.Context, author *User, postID primitive.ObjectID, body string, opts ...CommentOption) (*Comment, error) {
	if err := checkWriter(author); err != nil {
		return nil, err
	}
	body, err := CleanText("Comment", body, MaxCommentLen)
	if err != nil {
		return nil, err
	}
	c := &Comment{ID: primitive.NewObjectID(), PostID: postID, Body: body, Author: author.Name, AuthorID: author.ID, CreatedAt: now()}
	for _, o := range opts {
		o(c)
	}
	to, err := s.commentRecipients(ctx, author, c)
	if err != nil {
		return nil, err
	}
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.comments.InsertOne(ctx, c); err != nil {
			return fmt.Errorf("insert comment: %w", err)
		}
		// The post as it was before this comment: its participants are the
		// earlier commenters. Reading and updating it in one step inside the
		// transaction makes two concurrent commenters conflict, and MongoDB
		// retries the later one, which then sees the first.
		var post struct {
			Title        string               `bson:"title"`
			AuthorID     primitive.ObjectID   `bson:"authorId"`
			Participants []primitive.ObjectID `bson:"participants"`
			Locked       bool                 `bson:"locked"`
		}
		err := s.posts.FindOneAndUpdate(ctx, bson.M{"_id": postID, "deletedAt": notDeleted},
			bson.M{"$inc": bson.M{"comments": 1}, "$addToSet": bson.M{"participants": author.ID}, "$max": bson.M{"lastActivityAt": c.CreatedAt}},
			options.FindOneAndUpdate().SetProjection(bson.M{"title": 1, "authorId": 1, "participants": 1, "locked": 1}),
		).Decode(&post)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Errorf(ENOTFOUND, "No post with id %s.", postID.Hex())
		} else if err != nil {
			return fmt.Errorf("count comment on post %s: %w", postID.Hex(), err)
		}
		if post.Locked {
			return errLocked
		}
		to.add(NotificationComment, post.AuthorID)
		to.add(NotificationComment, post.Participants...)
		return s.insertNotifications(ctx, to.notifications(author, c.PostID, c.ID, post.Title, c.Body, c.CreatedAt))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CommentNotifications returns the notifications of comment c on the post
// titled title, one for each of recipients except its author, each once,
// all of kind comment. It is for writers that insert comments in bulk
// (seed), which make no replies or mentions.
func CommentNotifications(author *User, c *Comment, title string, recipients []primitive.ObjectID) []any {
	var to recipientSet
	to.add(NotificationComment, recipients...)
	return to.notifications(author, c.PostID, c.ID, title, c.Body, c.CreatedAt)
}

// commenters returns the ids of everyone who commented on a post, each once,
// in the order of their first comment.
func (s *Store) commenters(ctx context.Context, postID primitive.ObjectID) ([]primitive.ObjectID, error) {
	var rows []struct {
		AuthorID primitive.ObjectID `bson:"authorId"`
	}
	opts := options.Find().SetProjection(bson.M{"authorId": 1}).SetSort(bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}})
	if err := s.findAll(ctx, s.comments, bson.M{"postId": postID}, opts, &rows); err != nil {
		return nil, fmt.Errorf("list commenters of %s: %w", postID.Hex(), err)
	}
	ids := []primitive.ObjectID{}
	seen := map[primitive.ObjectID]bool{}
	for _, r := range rows {
		if !seen[r.AuthorID] {
			seen[r.AuthorID] = true
			ids = append(ids, r.AuthorID)
		}
	}
	return ids, nil
}

// commentOrder is the order of a post's comments, oldest first, key for key
// the index on (postId, createdAt, _id).
var commentOrder = bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}

// Comments returns up to limit of a post's comments, oldest first, after
// skipping the first skip. The thread page reads its numbered pages so: a
// skip walks the index entries it passes over, which at a forum's thread
// sizes (hundreds, a few thousand comments) costs little; CommentsAfter does
// not.
func (s *Store) Comments(ctx context.Context, postID primitive.ObjectID, skip, limit int) ([]*Comment, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	opts := options.Find().SetSort(commentOrder).SetSkip(int64(max(skip, 0))).SetLimit(int64(limit))
	return s.listComments(ctx, postID, bson.M{"postId": postID, "deletedAt": notDeleted}, opts)
}

// CommentsAfter returns up to limit of a post's comments, oldest first. When
// after is not the nil id, only the comments after that comment of the post
// are returned: the index is entered at its position, never skipped to.
func (s *Store) CommentsAfter(ctx context.Context, postID, after primitive.ObjectID, limit int) ([]*Comment, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	filter := bson.M{"postId": postID, "deletedAt": notDeleted}
	if !after.IsZero() {
		var a Comment
		err := s.comments.FindOne(ctx, bson.M{"_id": after, "postId": postID}).Decode(&a)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, Errorf(ENOTFOUND, "No comment with id %s on this post.", after.Hex())
		} else if err != nil {
			return nil, fmt.Errorf("find comment %s: %w", after.Hex(), err)
		}
		filter["$or"] = bson.A{
			bson.M{"createdAt": bson.M{"$gt": a.CreatedAt}},
			bson.M{"createdAt": a.CreatedAt, "_id": bson.M{"$gt": a.ID}},
		}
	}
	return s.listComments(ctx, postID, filter, options.Find().SetSort(commentOrder).SetLimit(int64(limit)))
}

func (s *Store) listComments(ctx context.Context, postID primitive.ObjectID, filter bson.M, opts *options.FindOptions) ([]*Comment, error) {
	comments := []*Comment{}
	if err := s.findAll(ctx, s.comments, filter, opts, &comments); err != nil {
		return nil, fmt.Errorf("list comments of %s: %w", postID.Hex(), err)
	}
	return comments, nil
}

func checkLimit(limit int) error {
	if limit <= 0 || limit > MaxPageSize {
		return Errorf(EINVALID, "Limit must be between 1 and %d.", MaxPageSize)
	}
	return nil
}

// UnreadCount returns how many of a user's notifications are unread.
func (s *Store) UnreadCount(ctx context.Context, userID primitive.ObjectID) (int64, error) {
	n, err := s.notifications.CountDocuments(ctx, bson.M{"userId": userID, "read": false})
	if err != nil {
		return 0, fmt.Errorf("count unread of %s: %w", userID.Hex(), err)
	}
	return n, nil
}

// MarkRead marks a user's notifications read: all of them when ids is empty,
// else only those among ids. It returns how many changed. The update is one
// transaction, so the count it returns is the change that was made: an update
// of many documents outside one can stop partway.
func (s *Store) MarkRead(ctx context.Context, userID primitive.ObjectID, ids []primitive.ObjectID) (int64, error) {
	filter := bson.M{"userId": userID, "read": false}
	if len(ids) > 0 {
		filter["_id"] = bson.M{"$in": ids}
	}
	var changed int64
	err := s.inTransaction(ctx, func(ctx context.Context) error {
		res, err := s.notifications.UpdateMany(ctx, filter, bson.M{"$set": bson.M{"read": true}})
		if err != nil {
			return err
		}
		changed = res.ModifiedCount
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark read for %s: %w", userID.Hex(), err)
	}
	return changed, nil
}

// Stats counts users, posts and comments from the collections' metadata,
// without reading their documents, less the deleted ones, which partial
// indexes count: the hub asks every stats interval.
// MongoDB's estimate can be off after an unclean shutdown until the next
// validation, which a display of totals tolerates.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	for _, c := range []struct {
		coll lungo.ICollection
		n    *int64
	}{{s.users, &st.Users}, {s.posts, &st.Posts}, {s.comments, &st.Comments}} {
		n, err := c.coll.EstimatedDocumentCount(ctx)
		if err != nil {
			return Stats{}, fmt.Errorf("count %s: %w", c.coll.Name(), err)
		}
		*c.n = n
	}
	for _, c := range []struct {
		coll lungo.ICollection
		n    *int64
	}{{s.posts, &st.Posts}, {s.comments, &st.Comments}} {
		n, err := c.coll.CountDocuments(ctx, bson.M{"deletedAt": bson.M{"$exists": true}})
		if err != nil {
			return Stats{}, fmt.Errorf("count deleted %s: %w", c.coll.Name(), err)
		}
		*c.n = max(0, *c.n-n)
	}
	return st, nil
}

func utf8Valid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.db.Client().Ping(ctx, readpref.Primary())
}
