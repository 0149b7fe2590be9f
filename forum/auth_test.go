package forum_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"golang.org/x/crypto/bcrypt"

	"forum/forum"
	"forum/forum/forumtest"
)

func TestUnknownNameCostsAPasswordComparison(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		mustRegister(t, s, "alice")
		compares := forum.CountCompares(s)
		for i, c := range []struct{ name, password string }{
			{"nobody", "password123"},
			{"alice", "wrong-password"},
			{"alice", "password123"},
		} {
			s.Authenticate(ctx, c.name, c.password)
			if got := compares.Load(); got != int64(i+1) {
				t.Fatalf("after signing in as %s: got %d comparisons, want %d", c.name, got, i+1)
			}
		}
	})
}

func TestPasswordsAreHashedAtTheStoresCost(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		fast := mustRegister(t, s, "fast")
		if cost, err := bcrypt.Cost(fast.PasswordHash); err != nil || cost != bcrypt.MinCost {
			t.Fatalf("hash of a store at cost %d: cost %d, %v", bcrypt.MinCost, cost, err)
		}
		// A store at the default cost hashes at it, and signs in a user
		// whose hash has another cost.
		def, err := forum.NewStore(ctx, s.Database())
		if err != nil {
			t.Fatal(err)
		}
		slow, err := def.Register(ctx, "slow", "password123")
		if err != nil {
			t.Fatal(err)
		}
		if cost, err := bcrypt.Cost(slow.PasswordHash); err != nil || cost != bcrypt.DefaultCost {
			t.Fatalf("hash of a store at the default cost: cost %d, %v", cost, err)
		}
		if _, err := def.Authenticate(ctx, "fast", "password123"); err != nil {
			t.Fatalf("signing in with a hash of another cost: %v", err)
		}
		for _, cost := range []int{bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
			if _, err := forum.NewStore(ctx, s.Database(), forum.WithPasswordCost(cost)); err == nil {
				t.Fatalf("a store at cost %d opened", cost)
			}
		}
	})
}

func TestAdminRoleIsKeptWithTheAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		if u := mustRegister(t, s, "admin"); u.Admin {
			t.Fatal(`registering "admin": got an admin`)
		}
		root := mustRegister(t, s, "root")
		if u, err := s.SetAdmin(ctx, "ROOT", true); err != nil || !u.Admin || u.ID != root.ID {
			t.Fatalf("grant: got %+v, %v", u, err)
		}
		again, err := forum.NewStore(ctx, s.Database(), forumtest.FastPasswords())
		if err != nil {
			t.Fatal(err)
		}
		if u, err := again.User(ctx, root.ID); err != nil || !u.Admin {
			t.Fatalf("root read by another store: got %+v, %v", u, err)
		}
		if u, err := again.Authenticate(ctx, "root", "password123"); err != nil || !u.Admin {
			t.Fatalf("root signing in: got %+v, %v", u, err)
		}
		_, err = s.SetAdmin(ctx, "nobody", true)
		wantCode(t, err, forum.ENOTFOUND)
		_, err = s.SetAdmin(ctx, "root", false)
		wantCode(t, err, forum.ECONFLICT)
		if _, err := s.SetAdmin(ctx, "admin", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetAdmin(ctx, "root", false); err != nil {
			t.Fatalf("revoke with another admin left: %v", err)
		}
		if u, err := s.User(ctx, root.ID); err != nil || u.Admin {
			t.Fatalf("revoked root: got %+v, %v", u, err)
		}
		admins, err := s.Admins(ctx)
		if err != nil || len(admins) != 1 || admins[0].Name != "admin" {
			t.Fatalf("admins: got %v, %v", admins, err)
		}
	})
}

func TestAdminsRevokingEachOtherLeaveOne(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		for _, name := range []string{"alice", "bob"} {
			mustRegister(t, s, name)
			if _, err := s.SetAdmin(ctx, name, true); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"alice", "bob"} {
			wg.Go(func() { _, errs[i] = s.SetAdmin(ctx, name, false) })
		}
		wg.Wait()
		codes := map[string]int{}
		for _, err := range errs {
			codes[forum.ErrorCode(err)]++
		}
		if codes[""] != 1 || codes[forum.ECONFLICT] != 1 {
			t.Fatalf("got errors %v, want one success and one conflict", errs)
		}
		if admins, err := s.Admins(ctx); err != nil || len(admins) != 1 {
			t.Fatalf("admins: got %v, %v", admins, err)
		}
	})
}

func TestSessionsEndAndExpire(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		ctx := context.Background()
		alice, bob := mustRegister(t, s, "alice"), mustRegister(t, s, "bob")
		start := func(u *forum.User) string {
			t.Helper()
			token, err := s.CreateSession(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		wantUser := func(token string, want *forum.User) {
			t.Helper()
			u, err := s.SessionUser(ctx, token)
			if want == nil {
				wantCode(t, err, forum.EUNAUTHORIZED)
				return
			}
			if err != nil || u.ID != want.ID {
				t.Fatalf("session user: got %+v, %v; want %s", u, err, want.Name)
			}
		}
		a1, a2, b1 := start(alice), start(alice), start(bob)
		wantUser(a1, alice)
		wantUser("not-a-token", nil)
		if err := s.EndSession(ctx, a1); err != nil {
			t.Fatal(err)
		}
		wantUser(a1, nil)
		wantUser(a2, alice)
		a3 := start(alice)
		if err := s.EndSessions(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		wantUser(a2, nil)
		wantUser(a3, nil)
		wantUser(b1, bob)

		sessions := s.Database().Collection(forum.SessionsCollection)
		if _, err := sessions.UpdateMany(ctx, bson.M{"userId": bob.ID}, bson.M{"$set": bson.M{"expiresAt": time.Now().Add(-time.Second)}}); err != nil {
			t.Fatal(err)
		}
		wantUser(b1, nil)
		if n, err := sessions.CountDocuments(ctx, bson.M{}); err != nil || n != 0 {
			t.Fatalf("sessions left: got %d, %v; want the expired one removed", n, err)
		}
	})
}

func TestExpiredSessionsAreRemovedByATTLIndex(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *forum.Store) {
		cur, err := s.Database().Collection(forum.SessionsCollection).Indexes().List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var indexes []bson.M
		if err := cur.All(context.Background(), &indexes); err != nil {
			t.Fatal(err)
		}
		for _, ix := range indexes {
			if keys, _ := ix["key"].(bson.M); keys["expiresAt"] != nil && ix["expireAfterSeconds"] != nil {
				return
			}
		}
		t.Fatalf("no TTL index on expiresAt: %v", indexes)
	})
}
