package streams

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/streams/fanout"
)

// Presence is state, not history: who reads a thread, who types a comment
// there and who is online, summed over every instance, with MongoDB as the
// only link between them.
//
// Each instance knows its own: the engine tells it how many listeners each
// topic has (fanout.Options.Listeners), which counts a thread's readers and,
// through the online topics every stream carries (onlineTopic), its users
// and guests; the typing endpoint tells it who types. It writes what
// changed to the presence collection, coalesced: at most one write per
// thread per interval, and its summary (users, guests) at most once per
// online interval, however many streams come and go. Every instance reads
// the collection's one change stream, folds the others' entries into its
// own, and sends its listeners the totals when they change, as frames
// without id: a client that resumes gets the current presence at connect.
//
// An instance's entries count while its summary has not expired. It
// rewrites its summary, and moves its thread entries' expiry on in one
// update, a third of the expiry before they expire; an instance that dies
// or is cut off stops counting within the expiry, and a TTL index sweeps
// its entries. An instance draws a new id each start, so a restarted one
// never adds to what it left: its old entries expire. One that stops
// cleanly deletes its entries at once.
//
// The collection holds, per instance, a summary {_id: <instance>, instance,
// users: [<user id>...], guests, expires} and an entry per thread it has
// readers or typers in {_id: <instance>/<post id>, instance, post, viewers,
// typers: [{user, name, since}], expires}.

// presenceDoc is a document of the presence collection: a summary, or a
// thread's entry if Post is set.
type presenceDoc struct {
	ID       string    `bson:"_id"`
	Instance string    `bson:"instance"`
	Post     string    `bson:"post,omitempty"`
	Viewers  int       `bson:"viewers,omitempty"`
	Typers   []typer   `bson:"typers,omitempty"`
	Users    []string  `bson:"users,omitempty"`
	Guests   int       `bson:"guests,omitempty"`
	Expires  time.Time `bson:"expires"`
}

// presenceChange is what the presence watcher reads of a change.
type presenceChange struct {
	OperationType string `bson:"operationType"`
	DocumentKey   struct {
		ID string `bson:"_id"`
	} `bson:"documentKey"`
	FullDocument *presenceDoc `bson:"fullDocument"`
}

// thread is who reads and types in a thread on one instance.
type thread struct {
	viewers int
	typers  []typer // in the order they started
}

// typer is a signed-in user typing a comment.
type typer struct {
	User  string    `bson:"user"`
	Name  string    `bson:"name"`
	Since time.Time `bson:"since"`
	last  time.Time // their last signal, on the instance they type on
}

// instance is what another instance has written.
type instance struct {
	expires time.Time
	live    bool // as of the last look: its entries count
	users   []string
	guests  int
	threads map[string]thread // by comments topic
}

// sent is the last frame of a topic's presence sent to its listeners.
type sent struct {
	data string
	at   time.Time
}

// presenceEvent is the data of a presence event.
type presenceEvent struct {
	PostID   string   `json:"postId"`
	Viewers  int      `json:"viewers"`
	Replying []string `json:"replying"`
}

// onlineEvent is the data of an online event.
type onlineEvent struct {
	Users  int `json:"users"`
	Guests int `json:"guests"`
}

// presence keeps this instance's presence, writes it, reads the others' and
// sends the totals.
type presence struct {
	log    *slog.Logger
	coll   lungo.ICollection
	engine *fanout.Hub
	id     string // this instance's
	opts   Options
	opened func() // counts a change stream opened

	send chan struct{} // capacity 1: there may be something to send

	mu        sync.Mutex
	local     map[string]*thread              // this instance's, by comments topic
	users     map[string]int                  // this instance's streams of each signed-in user
	guests    int                             // this instance's signed-out streams
	remote    map[string]*instance            // the others', by id
	published map[string]map[string]time.Time // by topic and user: when their comment was published

	dirty       map[string]bool      // topics whose entry is to be written
	written     map[string]time.Time // when each topic's entry was last written
	stored      map[string]bool      // topics that have an entry in the store
	onlineDirty bool                 // the summary is to be written
	summarized  time.Time            // when the summary was last written
	failing     bool                 // the last write failed

	stale       map[string]bool // topics whose totals may have changed
	sent        map[string]sent
	onlineStale bool
	online      sent
}

func newPresence(log *slog.Logger, coll lungo.ICollection, opts Options, opened func()) *presence {
	return &presence{
		log:       log,
		coll:      coll,
		id:        rand.Text(),
		opts:      opts,
		opened:    opened,
		send:      make(chan struct{}, 1),
		local:     map[string]*thread{},
		users:     map[string]int{},
		remote:    map[string]*instance{},
		published: map[string]map[string]time.Time{},
		dirty:     map[string]bool{},
		written:   map[string]time.Time{},
		stored:    map[string]bool{},
		stale:     map[string]bool{},
		sent:      map[string]sent{},
		// Listeners get who is online when they connect; the first change
		// goes out an interval after the start, as later ones do.
		online: sent{at: time.Now()},
		// The summary goes first, so that the others count this
		// instance's entries from the start.
		onlineDirty: true,
	}
}

// wake tells the send loop that something changed. It never blocks.
func (p *presence) wake() {
	select {
	case p.send <- struct{}{}:
	default:
	}
}

// changed marks topic's entry to write and its totals to send. Called
// with mu held.
func (p *presence) changed(topic string) {
	p.dirty[topic] = true
	p.stale[topic] = true
}

// tidy forgets topic's thread once nobody reads or types there. Called
// with mu held.
func (p *presence) tidy(topic string, t *thread) {
	if t.viewers == 0 && len(t.typers) == 0 {
		delete(p.local, topic)
	}
}

// listeners is the engine's fanout.Options.Listeners: it runs under the
// engine's lock, so it only takes note.
func (p *presence) listeners(topic string, n int) {
	kind, rest, _ := strings.Cut(topic, ":")
	switch kind {
	case commentsKind:
		p.mu.Lock()
		t := p.local[topic]
		if t == nil {
			t = &thread{}
			p.local[topic] = t
		}
		t.viewers = n
		p.tidy(topic, t)
		p.changed(topic)
		p.mu.Unlock()
	case onlineKind:
		p.mu.Lock()
		switch {
		case topic == guestTopic:
			p.guests = n
		case n == 0:
			delete(p.users, rest)
		default:
			p.users[rest] = n
		}
		p.onlineDirty, p.onlineStale = true, true
		p.mu.Unlock()
	default:
		return
	}
	p.wake()
}

// typed records that user, called name, types a comment in topic's thread.
// Only a typer who starts is news: later signals move their timeout on in
// memory, and cost no write.
func (p *presence) typed(topic, user, name string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.local[topic]
	if t == nil {
		t = &thread{}
		p.local[topic] = t
	}
	if i := typerIndex(t.typers, user); i >= 0 {
		t.typers[i].last = now
		return
	}
	t.typers = append(t.typers, typer{User: user, Name: name, Since: now, last: now})
	p.changed(topic)
	p.wake()
}

// commented records that user published a comment in topic's thread at at,
// as the comments change stream shows on every instance: they stop
// replying there, here, and in the entries of the other instances until
// those catch up, unless they started typing again after it.
func (p *presence) commented(topic, user string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.local[topic]; t != nil {
		if i := typerIndex(t.typers, user); i >= 0 {
			t.typers = slices.Delete(t.typers, i, i+1)
			p.tidy(topic, t)
			p.dirty[topic] = true
		}
	}
	if p.published[topic] == nil {
		p.published[topic] = map[string]time.Time{}
	}
	p.published[topic][user] = at
	p.stale[topic] = true
	p.wake()
}

func typerIndex(ts []typer, user string) int {
	return slices.IndexFunc(ts, func(t typer) bool { return t.User == user })
}

// expire drops the typers whose last signal is older than the typing
// timeout, notes the other instances whose entries stopped or started
// counting, and forgets publications no entry can predate any more.
// Called with mu held.
func (p *presence) expire(now time.Time) {
	for topic, t := range p.local {
		n := len(t.typers)
		t.typers = slices.DeleteFunc(t.typers, func(ty typer) bool { return now.Sub(ty.last) >= p.opts.TypingTimeout })
		if len(t.typers) != n {
			p.tidy(topic, t)
			p.changed(topic)
		}
	}
	for _, in := range p.remote {
		if live := now.Before(in.expires); live != in.live {
			in.live = live
			p.onlineStale = true
			for topic := range in.threads {
				p.stale[topic] = true
			}
		}
	}
	for topic, users := range p.published {
		maps.DeleteFunc(users, func(_ string, at time.Time) bool { return now.Sub(at) > 2*p.opts.TypingTimeout })
		if len(users) == 0 {
			delete(p.published, topic)
		}
	}
}

// threadData returns the presence of topic's thread on every instance as
// event data. Called with mu held.
func (p *presence) threadData(topic string, now time.Time) []byte {
	viewers := 0
	var typers []typer
	if t := p.local[topic]; t != nil {
		viewers += t.viewers
		typers = append(typers, t.typers...)
	}
	for _, in := range p.remote {
		t, ok := in.threads[topic]
		if !ok || !now.Before(in.expires) {
			continue
		}
		viewers += t.viewers
		for _, ty := range t.typers {
			if at, ok := p.published[topic][ty.User]; !ok || ty.Since.After(at) {
				typers = append(typers, ty)
			}
		}
	}
	slices.SortStableFunc(typers, func(a, b typer) int { return a.Since.Compare(b.Since) })
	ev := presenceEvent{PostID: strings.TrimPrefix(topic, commentsKind+":"), Viewers: viewers, Replying: []string{}}
	var seen []string
	for _, ty := range typers {
		// One user may type on two instances, in two tabs.
		if !slices.Contains(seen, ty.User) {
			seen = append(seen, ty.User)
			ev.Replying = append(ev.Replying, ty.Name)
		}
	}
	b, _ := json.Marshal(ev) // strings and numbers always encode
	return b
}

// onlineData returns who is online on every instance as event data.
// Called with mu held.
func (p *presence) onlineData(now time.Time) []byte {
	users := make(map[string]bool, len(p.users))
	for u := range p.users {
		users[u] = true
	}
	guests := p.guests
	for _, in := range p.remote {
		if now.Before(in.expires) {
			for _, u := range in.users {
				users[u] = true
			}
			guests += in.guests
		}
	}
	b, _ := json.Marshal(onlineEvent{Users: len(users), Guests: guests})
	return b
}

func presenceFrame(topic string, data []byte) *fanout.Frame {
	return fanout.NewState(EventPresence+" "+topic, EventPresence, data)
}

func onlineFrame(data []byte) *fanout.Frame {
	return fanout.NewState(EventOnline, EventOnline, data)
}

// first queues the current presence for a new listener of topics: that of
// each thread it reads, itself included, and who is online if it listens
// to the posts.
func (p *presence) first(l *fanout.Listener) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range l.Topics() {
		switch {
		case t == PostsTopic:
			l.PushFirst(onlineFrame(p.onlineData(now)))
		case strings.HasPrefix(t, commentsKind+":"):
			data := p.threadData(t, now)
			l.PushFirst(presenceFrame(t, data))
			if th := p.local[t]; th != nil && th.viewers == 1 {
				// Its only listener here has it now.
				p.sent[t] = sent{data: string(data), at: now}
			}
		}
	}
}

// tick is how often the loops look for what is due: a quarter of the
// interval, so that a change waits at most that long past its due time.
func (p *presence) tick() time.Duration {
	return p.opts.PresenceInterval / 4
}

// sendLoop sends the listeners of each thread its totals when they change,
// at most once per interval, and who is online at most once per online
// interval, until ctx is done.
func (p *presence) sendLoop(ctx context.Context) {
	p.loop(ctx, p.send, p.sendDue)
}

// loop calls do at every tick, and when woken if wake is not nil, until
// ctx is done.
func (p *presence) loop(ctx context.Context, wake <-chan struct{}, do func(now time.Time)) {
	t := time.NewTicker(p.tick())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		do(time.Now())
	}
}

// sendDue sends what changed and is due.
func (p *presence) sendDue(now time.Time) {
	type out struct {
		topic string
		f     *fanout.Frame
	}
	var outs []out
	p.mu.Lock()
	p.expire(now)
	for topic := range p.stale {
		if t := p.local[topic]; t == nil || t.viewers == 0 {
			// Nobody here to tell.
			delete(p.stale, topic)
			delete(p.sent, topic)
			continue
		}
		last := p.sent[topic]
		if now.Sub(last.at) < p.opts.PresenceInterval {
			continue
		}
		delete(p.stale, topic)
		if data := p.threadData(topic, now); string(data) != last.data {
			p.sent[topic] = sent{data: string(data), at: now}
			outs = append(outs, out{topic, presenceFrame(topic, data)})
		}
	}
	if p.onlineStale && now.Sub(p.online.at) >= p.opts.OnlineInterval {
		p.onlineStale = false
		if data := p.onlineData(now); string(data) != p.online.data {
			p.online = sent{data: string(data), at: now}
			outs = append(outs, out{PostsTopic, onlineFrame(data)})
		}
	}
	p.mu.Unlock()
	for _, o := range outs {
		p.engine.Send(o.topic, o.f)
	}
}

// writeLoop writes what changed and is due, and refreshes this instance's
// entries before they expire, until ctx is done; then it deletes them. It
// writes at ticks only, never on a change, so that the writes of all the
// threads due at a tick go in one request: at most four a second.
func (p *presence) writeLoop(ctx context.Context) {
	defer p.withdraw(ctx)
	p.index(ctx)
	p.loop(ctx, nil, func(now time.Time) { p.flush(ctx, now) })
}

// index creates the TTL index that sweeps the entries of instances that
// are gone. MongoDB's TTL monitor, and lungo's, run every minute: entries
// stop counting at their expiry, as readers check it, and are swept later.
func (p *presence) index(ctx context.Context) {
	_, err := p.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "expires", Value: 1}},
		Options: options.Index().SetExpireAfterSeconds(0),
	})
	if err != nil && ctx.Err() == nil {
		p.log.Warn("create presence TTL index", "error", err)
	}
}

// flush writes in one request what is due: the summary first, then the
// entries of the threads that changed, then the refresh of the others.
func (p *presence) flush(ctx context.Context, now time.Time) {
	models, topics, summary := p.due(now)
	if len(models) == 0 {
		return
	}
	_, err := p.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		if p.failing {
			p.failing = false
			p.log.Info("presence written again")
		}
		return
	}
	// All of it again at the next tick: a thread's entry may or may not
	// be in the store now.
	for _, t := range topics {
		p.dirty[t], p.stored[t] = true, true
	}
	if summary {
		p.summarized = time.Time{}
	}
	if !p.failing && ctx.Err() == nil {
		p.failing = true
		p.log.Warn("write presence; retrying", "error", err)
	}
}

// due returns the writes that are due, the topics they write and whether
// the summary is among them.
func (p *presence) due(now time.Time) ([]mongo.WriteModel, []string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	expires := now.Add(p.opts.PresenceExpiry)
	refresh := now.Sub(p.summarized) >= p.opts.PresenceExpiry/3
	summary := refresh || p.onlineDirty && now.Sub(p.summarized) >= p.opts.OnlineInterval
	var models []mongo.WriteModel
	if summary {
		p.onlineDirty, p.summarized = false, now
		doc := presenceDoc{ID: p.id, Instance: p.id, Users: slices.Sorted(maps.Keys(p.users)), Guests: p.guests, Expires: expires}
		models = append(models, mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: doc.ID}}).SetReplacement(doc).SetUpsert(true))
	}
	var topics []string
	for topic := range p.dirty {
		if now.Sub(p.written[topic]) < p.opts.PresenceInterval {
			continue
		}
		delete(p.dirty, topic)
		t := p.local[topic]
		if t == nil && !p.stored[topic] {
			continue
		}
		p.written[topic] = now
		topics = append(topics, topic)
		post := strings.TrimPrefix(topic, commentsKind+":")
		id := bson.D{{Key: "_id", Value: p.id + "/" + post}}
		if t == nil {
			delete(p.stored, topic)
			models = append(models, mongo.NewDeleteOneModel().SetFilter(id))
			continue
		}
		p.stored[topic] = true
		doc := presenceDoc{ID: p.id + "/" + post, Instance: p.id, Post: post, Viewers: t.viewers, Typers: slices.Clone(t.typers), Expires: expires}
		models = append(models, mongo.NewReplaceOneModel().SetFilter(id).SetReplacement(doc).SetUpsert(true))
	}
	if refresh && len(p.stored) > 0 {
		models = append(models, mongo.NewUpdateManyModel().
			SetFilter(bson.D{{Key: "instance", Value: p.id}, {Key: "post", Value: bson.D{{Key: "$exists", Value: true}}}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: expires}}}}))
	}
	maps.DeleteFunc(p.written, func(topic string, at time.Time) bool {
		return !p.dirty[topic] && !p.stored[topic] && now.Sub(at) >= p.opts.PresenceInterval
	})
	return models, topics, summary
}

// withdraw deletes this instance's entries, so that the others stop
// counting them at once rather than at their expiry.
func (p *presence) withdraw(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := p.coll.DeleteMany(ctx, bson.D{{Key: "instance", Value: p.id}}); err != nil {
		p.log.Warn("withdraw presence: it expires instead", "error", err)
	}
}

// watch reads the other instances' presence from the collection's change
// stream until ctx is done, reopening it when it fails. Presence is state:
// a stream that reopens reads the collection afresh rather than resume,
// and its changes are no source of event ids.
func (p *presence) watch(ctx context.Context) {
	fails := 0
	for {
		began := time.Now()
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > maxBackoff {
			fails = 0
		}
		fails++
		d := backoff(fails)
		p.log.Warn("presence change stream failed; reopening", "error", err, "in", d)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// errPresenceGone ends the presence change stream when its collection was
// dropped or renamed: what the instances wrote is gone, and is read again.
var errPresenceGone = errors.New("presence collection dropped or renamed")

// follow opens the change stream, then reads the collection, so that no
// change falls between, and folds in the changes until the stream fails.
func (p *presence) follow(ctx context.Context) error {
	cs, err := p.coll.Watch(ctx, mongo.Pipeline{}, options.ChangeStream().SetMaxAwaitTime(p.opts.MaxAwait))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		cs.Close(cctx)
	}()
	p.opened()
	if err := p.load(ctx); err != nil {
		return err
	}
	for cs.Next(ctx) {
		c := new(presenceChange)
		if err := cs.Decode(c); err != nil {
			p.log.Error("decode presence change", "error", err)
			continue
		}
		if err := p.apply(c, time.Now()); err != nil {
			return err
		}
	}
	if err := cs.Err(); err != nil {
		return err
	}
	return errors.New("change stream closed")
}

// load replaces what is known of the other instances with what the
// collection holds.
func (p *presence) load(ctx context.Context) error {
	cur, err := p.coll.Find(ctx, bson.D{})
	if err != nil {
		return err
	}
	var docs []presenceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.remote {
		p.forget(id)
	}
	for i := range docs {
		p.put(&docs[i], now)
	}
	p.wake()
	return nil
}

// apply folds in one change of the collection.
func (p *presence) apply(c *presenceChange, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c.OperationType {
	case "insert", "replace":
		if c.FullDocument != nil {
			p.put(c.FullDocument, now)
		}
	case "delete":
		inst, post, thread := strings.Cut(c.DocumentKey.ID, "/")
		switch {
		case inst == p.id:
		case thread:
			p.drop(inst, commentsKind+":"+post)
		default:
			p.forget(inst)
		}
	case "drop", "rename", "dropDatabase", "invalidate":
		return errPresenceGone
	}
	// An update is a refresh of thread entries' expiry, which count by
	// their instance's summary.
	p.wake()
	return nil
}

// put folds in a document another instance wrote. Called with mu held.
func (p *presence) put(doc *presenceDoc, now time.Time) {
	if doc.Instance == p.id || doc.Instance == "" {
		return
	}
	in := p.remote[doc.Instance]
	if in == nil {
		in = &instance{threads: map[string]thread{}}
		p.remote[doc.Instance] = in
	}
	if doc.Post == "" {
		in.expires, in.users, in.guests = doc.Expires, doc.Users, doc.Guests
		p.onlineStale = true
		if live := now.Before(in.expires); live != in.live {
			in.live = live
			for topic := range in.threads {
				p.stale[topic] = true
			}
		}
		return
	}
	topic := commentsKind + ":" + doc.Post
	in.threads[topic] = thread{viewers: doc.Viewers, typers: doc.Typers}
	p.stale[topic] = true
}

// drop forgets a thread entry of instance inst. Called with mu held.
func (p *presence) drop(inst, topic string) {
	in := p.remote[inst]
	if in == nil {
		return
	}
	delete(in.threads, topic)
	p.stale[topic] = true
	if len(in.threads) == 0 && in.expires.IsZero() {
		delete(p.remote, inst)
	}
}

// forget forgets instance inst. Called with mu held.
func (p *presence) forget(inst string) {
	in := p.remote[inst]
	if in == nil {
		return
	}
	for topic := range in.threads {
		p.stale[topic] = true
	}
	p.onlineStale = true
	delete(p.remote, inst)
}

// commentPublished hands a published comment, a document of the comments
// collection, to presence.
func (p *presence) commentPublished(doc bson.Raw) {
	post, ok1 := doc.Lookup("postId").ObjectIDOK()
	author, ok2 := doc.Lookup("authorId").ObjectIDOK()
	at, ok3 := doc.Lookup("createdAt").TimeOK()
	if ok1 && ok2 && ok3 {
		p.commented(CommentsTopic(post), author.Hex(), at)
	}
}

// viewerKey is the context key of a stream's signed-in user.
type viewerKey struct{}

// AsUser returns ctx for a stream of the signed-in user id, which counts
// as that user online; a stream without counts as a guest.
func AsUser(ctx context.Context, id primitive.ObjectID) context.Context {
	return context.WithValue(ctx, viewerKey{}, id)
}

// viewer returns the signed-in user of a stream's context, or zero.
func viewer(ctx context.Context) primitive.ObjectID {
	id, _ := ctx.Value(viewerKey{}).(primitive.ObjectID)
	return id
}
