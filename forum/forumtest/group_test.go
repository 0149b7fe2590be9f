package forumtest_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum/forumtest"
	"github.com/256dpi/lungo"
)

func TestInsertManyEventsShareClusterTime(t *testing.T) {
	t.Parallel()
	raw := newStore(t, lungo.Options{})
	a := forumtest.WrapClient(raw).Database("test").Collection("c")
	b := forumtest.WrapClient(raw).Database("test").Collection("c")
	onA, onB := watch(t, a), watch(t, b)
	if _, err := a.InsertMany(context.Background(), []any{bson.M{"n": 1}, bson.M{"n": 2}, bson.M{"n": 3}}); err != nil {
		t.Fatal(err)
	}
	insert(t, a, bson.M{"n": 4})
	for name, cs := range map[string]lungo.IChangeStream{"A": onA, "B": onB} {
		es := []event{next(t, cs), next(t, cs), next(t, cs), next(t, cs)}
		for i, e := range es[1:3] {
			if e.ClusterTime != es[0].ClusterTime {
				t.Errorf("%s: event %d at %v, want the insertMany's %v", name, i+2, e.ClusterTime, es[0].ClusterTime)
			}
		}
		if !es[0].ClusterTime.Before(es[3].ClusterTime) {
			t.Errorf("%s: next write at %v, not after the insertMany's %v", name, es[3].ClusterTime, es[0].ClusterTime)
		}
		for i := range es {
			for j := range i {
				if bytes.Equal(es[i].ID, es[j].ID) {
					t.Errorf("%s: events %d and %d share resume token %s", name, j, i, es[i].ID)
				}
			}
		}
	}
}

func TestTransactionEventsShareClusterTime(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	cs := watch(t, db)
	err := db.Client().UseSession(context.Background(), func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(sc lungo.ISessionContext) (any, error) {
			if _, err := db.Collection("a").InsertOne(sc, bson.M{"n": 1}); err != nil {
				return nil, err
			}
			if _, err := db.Collection("b").InsertMany(sc, []any{bson.M{"n": 2}, bson.M{"n": 3}}); err != nil {
				return nil, err
			}
			_, err := db.Collection("a").UpdateOne(sc, bson.M{"n": 1}, bson.M{"$set": bson.M{"x": 1}})
			return nil, err
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	first := next(t, cs)
	var ops []string
	for range 3 {
		e := next(t, cs)
		ops = append(ops, e.Op)
		if e.ClusterTime != first.ClusterTime {
			t.Errorf("%s at %v, want the transaction's %v", e.Op, e.ClusterTime, first.ClusterTime)
		}
	}
	if want := []string{"insert", "insert", "update"}; !slices.Equal(ops, want) {
		t.Fatalf("got %v after the first insert, want %v", ops, want)
	}
}

func TestStartAtOperationTimeDeliversWholeGroup(t *testing.T) {
	t.Parallel()
	c := newDB(t).Collection("c")
	cs := watch(t, c)
	if _, err := c.InsertMany(context.Background(), []any{bson.M{"n": 1}, bson.M{"n": 2}, bson.M{"n": 3}}); err != nil {
		t.Fatal(err)
	}
	insert(t, c, bson.M{"n": 4})
	group := next(t, cs).ClusterTime

	at := watch(t, c, options.ChangeStream().SetStartAtOperationTime(&group))
	for i := range 4 {
		if e := next(t, at); e.Op != "insert" || i < 3 && e.ClusterTime != group {
			t.Fatalf("event %d from the group time %v: %s at %v", i+1, group, e.Op, e.ClusterTime)
		}
	}
	past := primitive.Timestamp{T: group.T, I: group.I + 1}
	after := watch(t, c, options.ChangeStream().SetStartAtOperationTime(&past))
	var doc struct {
		Full struct {
			N int `bson:"n"`
		} `bson:"fullDocument"`
	}
	e := next(t, after)
	if err := bson.Unmarshal(e.Raw, &doc); err != nil || doc.Full.N != 4 {
		t.Fatalf("starting right after the group: got n=%d (%v), want the insert of 4", doc.Full.N, err)
	}
}
