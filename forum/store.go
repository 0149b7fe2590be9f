package forum

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"golang.org/x/crypto/bcrypt"
)

// Page sizes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxNotifications is how many notifications a listing returns at most.
	MaxNotifications = 200
)

// Store keeps users, posts, comments and notifications in a database reached
// through lungo's driver interfaces.
type Store struct {
	db            lungo.IDatabase
	users         lungo.ICollection
	posts         lungo.ICollection
	comments      lungo.ICollection
	notifications lungo.ICollection
	admins        map[string]bool
}

// NewStore returns a store over db and creates the indexes its queries use.
// admins names the users who are admins.
func NewStore(ctx context.Context, db lungo.IDatabase, admins []string) (*Store, error) {
	s := &Store{
		db:            db,
		users:         db.Collection(UsersCollection),
		posts:         db.Collection(PostsCollection),
		comments:      db.Collection(CommentsCollection),
		notifications: db.Collection(NotificationsCollection),
		admins:        map[string]bool{},
	}
	for _, a := range admins {
		if a = strings.TrimSpace(a); a != "" {
			s.admins[strings.ToLower(a)] = true
		}
	}
	indexes := []struct {
		coll  lungo.ICollection
		model mongo.IndexModel
	}{
		{s.users, mongo.IndexModel{Keys: bson.D{{Key: "nameKey", Value: 1}}, Options: options.Index().SetUnique(true)}},
		{s.posts, mongo.IndexModel{Keys: bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}}},
		{s.comments, mongo.IndexModel{Keys: bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}}}},
		{s.notifications, mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}}}},
	}
	for _, ix := range indexes {
		if _, err := ix.coll.Indexes().CreateOne(ctx, ix.model); err != nil {
			return nil, fmt.Errorf("create index on %s: %w", ix.coll.Name(), err)
		}
	}
	return s, nil
}

// Database returns the database the store keeps its collections in.
func (s *Store) Database() lungo.IDatabase { return s.db }

func (s *Store) withRole(u *User) *User {
	u.Admin = s.admins[u.NameKey]
	return u
}

// Register creates a user.
func (s *Store) Register(ctx context.Context, name, password string) (*User, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	key := strings.ToLower(name)
	n, err := s.users.CountDocuments(ctx, bson.M{"nameKey": key})
	if err != nil {
		return nil, fmt.Errorf("check name %s: %w", name, err)
	}
	if n > 0 {
		return nil, nameTaken(name)
	}
	hash, err := bcrypt.GenerateFromPassword(prehash(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u := &User{ID: primitive.NewObjectID(), Name: name, NameKey: key, PasswordHash: hash, CreatedAt: now()}
	if _, err := s.users.InsertOne(ctx, u); err != nil {
		if lungo.IsUniquenessError(err) {
			return nil, nameTaken(name)
		}
		return nil, fmt.Errorf("insert user %s: %w", name, err)
	}
	return s.withRole(u), nil
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
	if !utf8Valid(name, password) || len(name) > MaxNameLen*4 || len(password) > 1024 {
		return nil, wrong
	}
	var u User
	err := s.users.FindOne(ctx, bson.M{"nameKey": strings.ToLower(name)}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, wrong
	} else if err != nil {
		return nil, fmt.Errorf("find user %s: %w", name, err)
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, prehash(password)) != nil {
		return nil, wrong
	}
	return s.withRole(&u), nil
}

// User returns the user with this id.
func (s *Store) User(ctx context.Context, id primitive.ObjectID) (*User, error) {
	var u User
	if err := s.findOne(ctx, s.users, id, "user", &u); err != nil {
		return nil, err
	}
	return s.withRole(&u), nil
}

func (s *Store) findOne(ctx context.Context, coll lungo.ICollection, id primitive.ObjectID, what string, out any) error {
	err := coll.FindOne(ctx, bson.M{"_id": id}).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Errorf(ENOTFOUND, "No %s with id %s.", what, id.Hex())
	} else if err != nil {
		return fmt.Errorf("find %s %s: %w", what, id.Hex(), err)
	}
	return nil
}

// CreatePost publishes a post by author.
func (s *Store) CreatePost(ctx context.Context, author *User, title, body string) (*Post, error) {
	title, err := CleanText("Title", title, MaxTitleLen)
	if err != nil {
		return nil, err
	}
	body, err = CleanText("Body", body, MaxPostBodyLen)
	if err != nil {
		return nil, err
	}
	p := &Post{ID: primitive.NewObjectID(), Title: title, Body: body, Author: author.Name, AuthorID: author.ID, CreatedAt: now()}
	if _, err := s.posts.InsertOne(ctx, p); err != nil {
		return nil, fmt.Errorf("insert post: %w", err)
	}
	return p, nil
}

// Post returns the post with this id.
func (s *Store) Post(ctx context.Context, id primitive.ObjectID) (*Post, error) {
	var p Post
	if err := s.findOne(ctx, s.posts, id, "post", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Posts returns up to limit posts, newest first. When before is not the nil
// id, only posts older than that post are returned.
func (s *Store) Posts(ctx context.Context, limit int, before primitive.ObjectID) ([]*Post, error) {
	if limit <= 0 || limit > MaxPageSize {
		return nil, Errorf(EINVALID, "Limit must be between 1 and %d.", MaxPageSize)
	}
	filter := bson.M{}
	if !before.IsZero() {
		b, err := s.Post(ctx, before)
		if err != nil {
			return nil, err
		}
		filter = bson.M{"$or": bson.A{
			bson.M{"createdAt": bson.M{"$lt": b.CreatedAt}},
			bson.M{"createdAt": b.CreatedAt, "_id": bson.M{"$lt": b.ID}},
		}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
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

// CreateComment adds a comment by author to a post, and notifies the post's
// author and everyone who commented on it before, except author.
func (s *Store) CreateComment(ctx context.Context, author *User, postID primitive.ObjectID, body string) (*Comment, error) {
	body, err := CleanText("Comment", body, MaxCommentLen)
	if err != nil {
		return nil, err
	}
	post, err := s.Post(ctx, postID)
	if err != nil {
		return nil, err
	}
	earlier, err := s.commenters(ctx, postID)
	if err != nil {
		return nil, err
	}
	c := &Comment{ID: primitive.NewObjectID(), PostID: postID, Body: body, Author: author.Name, AuthorID: author.ID, CreatedAt: now()}
	if _, err := s.comments.InsertOne(ctx, c); err != nil {
		return nil, fmt.Errorf("insert comment: %w", err)
	}
	if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": postID}, bson.M{"$inc": bson.M{"comments": 1}}); err != nil {
		return nil, fmt.Errorf("count comment on post %s: %w", postID.Hex(), err)
	}
	recipients := append([]primitive.ObjectID{post.AuthorID}, earlier...)
	seen := map[primitive.ObjectID]bool{author.ID: true}
	var docs []any
	for _, r := range recipients {
		if seen[r] {
			continue
		}
		seen[r] = true
		docs = append(docs, &Notification{
			ID: primitive.NewObjectID(), UserID: r, Kind: NotificationComment,
			PostID: postID, CommentID: c.ID, Actor: author.Name,
			Message:   fmt.Sprintf("%s commented on “%s”", author.Name, truncate(post.Title, 60)),
			CreatedAt: c.CreatedAt,
		})
	}
	if len(docs) > 0 {
		if _, err := s.notifications.InsertMany(ctx, docs); err != nil {
			return nil, fmt.Errorf("insert notifications: %w", err)
		}
	}
	return c, nil
}

// commenters returns the ids of everyone who commented on a post.
func (s *Store) commenters(ctx context.Context, postID primitive.ObjectID) ([]primitive.ObjectID, error) {
	var rows []struct {
		AuthorID primitive.ObjectID `bson:"authorId"`
	}
	opts := options.Find().SetProjection(bson.M{"authorId": 1}).SetSort(bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}})
	if err := s.findAll(ctx, s.comments, bson.M{"postId": postID}, opts, &rows); err != nil {
		return nil, fmt.Errorf("list commenters of %s: %w", postID.Hex(), err)
	}
	ids := make([]primitive.ObjectID, len(rows))
	for i, r := range rows {
		ids[i] = r.AuthorID
	}
	return ids, nil
}

// Comments returns a post's comments, oldest first.
func (s *Store) Comments(ctx context.Context, postID primitive.ObjectID) ([]*Comment, error) {
	comments := []*Comment{}
	opts := options.Find().SetSort(bson.D{{Key: "postId", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}})
	if err := s.findAll(ctx, s.comments, bson.M{"postId": postID}, opts, &comments); err != nil {
		return nil, fmt.Errorf("list comments of %s: %w", postID.Hex(), err)
	}
	return comments, nil
}

// Notifications returns a user's latest notifications, newest first.
func (s *Store) Notifications(ctx context.Context, userID primitive.ObjectID) ([]*Notification, error) {
	ns := []*Notification{}
	opts := options.Find().SetSort(bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(MaxNotifications)
	if err := s.findAll(ctx, s.notifications, bson.M{"userId": userID}, opts, &ns); err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", userID.Hex(), err)
	}
	return ns, nil
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
// else only those among ids. It returns how many changed.
func (s *Store) MarkRead(ctx context.Context, userID primitive.ObjectID, ids []primitive.ObjectID) (int64, error) {
	filter := bson.M{"userId": userID, "read": false}
	if len(ids) > 0 {
		filter["_id"] = bson.M{"$in": ids}
	}
	res, err := s.notifications.UpdateMany(ctx, filter, bson.M{"$set": bson.M{"read": true}})
	if err != nil {
		return 0, fmt.Errorf("mark read for %s: %w", userID.Hex(), err)
	}
	return res.ModifiedCount, nil
}

// Stats counts users, posts and comments.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	for _, c := range []struct {
		coll lungo.ICollection
		n    *int64
	}{{s.users, &st.Users}, {s.posts, &st.Posts}, {s.comments, &st.Comments}} {
		n, err := c.coll.CountDocuments(ctx, bson.M{})
		if err != nil {
			return Stats{}, fmt.Errorf("count %s: %w", c.coll.Name(), err)
		}
		*c.n = n
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
