package web

import "testing"

func TestSafeNextKeepsOnlySameSitePaths(t *testing.T) {
	for _, tt := range []struct{ name, next, want string }{
		{"path", "/posts/new", "/posts/new"},
		{"path with query", "/ok?x=1", "/ok?x=1"},
		{"dot segments cleaned", "/a/./b/../c", "/a/c"},
		{"fragment dropped", "/ok#top", "/ok"},
		{"empty", "", "/"},
		{"relative", "posts/new", "/"},
		{"dot backslash", `/./\evil.com`, "/"},
		{"slash backslash", `/\evil.com`, "/"},
		{"two backslashes", `\\evil.com`, "/"},
		{"encoded backslash", "/%5Cevil.com", "/"},
		{"encoded backslash after dot", "/./%5cevil.com", "/"},
		{"protocol relative", "//evil.com", "/"},
		{"protocol relative after dot cleaned", "/.//evil.com", "/evil.com"},
		{"encoded slashes", "/%2F%2Fevil.com", "/evil.com"},
		{"empty authority cleaned", "///evil.com", "/evil.com"},
		{"scheme", "https://evil.com", "/"},
		{"scheme without slashes", "https:evil.com", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"control character", "/ok\n", "/"},
		{"encoded control character", "/ok%0d%0aSet-Cookie:x", "/"},
		{"tab", "/\t/evil.com", "/"},
		{"user info", "//user@evil.com", "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.next); got != tt.want {
				t.Fatalf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}
