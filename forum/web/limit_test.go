package web

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLimiterForgetsLeastRecentlyUsedKeysPastItsBound(t *testing.T) {
	l := newLimiter(2, time.Hour, 3)
	for i := range 100 {
		l.reserve(fmt.Sprint("key", i))
	}
	if n := l.len(); n != 3 {
		t.Fatalf("keys held: got %d, want the bound 3", n)
	}
	l.reserve("key97")
	l.reserve("key100")
	for key, want := range map[string]bool{"key97": true, "key98": false, "key99": true, "key100": true} {
		if _, held := l.counts[key]; held != want {
			t.Errorf("%s held: got %v, want %v", key, held, want)
		}
	}
	if ok, _ := l.reserve("key97"); ok {
		t.Error("key97's third attempt was allowed; its count should have been kept")
	}
}

func TestLimiterRefusesPastTheLimitUntilTheWindowEnds(t *testing.T) {
	l := newLimiter(2, time.Hour, 10)
	for i := range 2 {
		if ok, _ := l.reserve("k"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.reserve("k")
	if ok || wait <= 59*time.Minute || wait > time.Hour {
		t.Fatalf("third attempt: got %v, wait %v; want refused for about an hour", ok, wait)
	}
	l.reset("k")
	if ok, _ := l.reserve("k"); !ok {
		t.Fatal("attempt after reset refused")
	}
}

func TestNamesThatCannotExistShareOneKeyPerAddress(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/login", nil)
	r.RemoteAddr = "192.0.2.7:4711"
	long := loginKey(r, strings.Repeat("a", 60000))
	if other := loginKey(r, strings.Repeat("b", 33)); other != long {
		t.Errorf("two overlong names: got keys %q and %q, want one", long, other)
	}
	if bad := loginKey(r, "no spaces allowed"); bad != long {
		t.Errorf("invalid name: got key %q, want %q", bad, long)
	}
	if len(long) > 64 {
		t.Errorf("overlong name's key is %d bytes", len(long))
	}
	if a, b := loginKey(r, "Alice"), loginKey(r, "alice"); a != b || a == long {
		t.Errorf("alice's keys: got %q and %q", a, b)
	}
	r.RemoteAddr = "192.0.2.8:4711"
	if elsewhere := loginKey(r, strings.Repeat("a", 60000)); elsewhere == long {
		t.Error("another address shares the overlong key")
	}
}
