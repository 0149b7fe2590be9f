package views

import (
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// allowedMarkup is every tag that rendered Markdown may contain, with the
// attributes each may have.
var allowedMarkup = map[string][]string{
	"p": nil, "br": nil, "em": nil, "strong": nil, "del": nil,
	"a":  {"href", "rel"},
	"ul": nil, "ol": {"start"}, "li": nil, "blockquote": nil, "hr": nil,
	"code": {"class"}, "pre": nil,
	"h3": nil, "h4": nil, "h5": nil, "h6": nil,
}

// checkMarkup fails unless out holds only allowed tags and attributes,
// every link goes to an http(s) or mailto address or to this site, and
// every link but a mention has rel "nofollow ugc noopener".
func checkMarkup(t *testing.T, in, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Fatalf("tokenize %q: %v", out, z.Err())
			}
			return
		}
		tok := z.Token()
		switch tt {
		case html.CommentToken, html.DoctypeToken:
			t.Fatalf("Markdown %q: rendered %v %q in %q", in, tt, tok.Data, out)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
		default:
			continue
		}
		allowed, ok := allowedMarkup[tok.Data]
		if !ok {
			t.Fatalf("Markdown %q: tag <%s> in %q", in, tok.Data, out)
		}
		attrs := map[string]string{}
		for _, a := range tok.Attr {
			if !slices.Contains(allowed, a.Key) || a.Namespace != "" {
				t.Fatalf("Markdown %q: attribute %s on <%s> in %q", in, a.Key, tok.Data, out)
			}
			attrs[a.Key] = a.Val
		}
		if tok.Data == "code" && attrs["class"] != "" && !strings.HasPrefix(attrs["class"], "language-") {
			t.Fatalf("Markdown %q: class %q on <code>", in, attrs["class"])
		}
		if tok.Data == "a" && tt == html.StartTagToken {
			checkLink(t, in, attrs)
		}
	}
}

func checkLink(t *testing.T, in string, attrs map[string]string) {
	t.Helper()
	href, ok := attrs["href"]
	if !ok {
		t.Fatalf("Markdown %q: link without href", in)
	}
	if strings.HasPrefix(href, "/u/") && !strings.HasPrefix(href, "//") {
		return
	}
	if attrs["rel"] != linkRel {
		t.Fatalf("Markdown %q: link %q has rel %q", in, href, attrs["rel"])
	}
	u, err := url.Parse(href)
	if err != nil {
		t.Fatalf("Markdown %q: href %q does not parse: %v", in, href, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "mailto":
	case "":
		if u.Host != "" || strings.HasPrefix(href, "//") || strings.ContainsAny(href, "\\\t\n\r") {
			t.Fatalf("Markdown %q: href %q leaves the site", in, href)
		}
	default:
		t.Fatalf("Markdown %q: href %q has scheme %q", in, href, u.Scheme)
	}
}

// nastyMarkdown are inputs that have got HTML through Markdown renderers.
var nastyMarkdown = []string{
	"<script>alert(1)</script>",
	"<img src=x onerror=alert(1)>",
	"a <b onclick=\"x()\">bold</b> word",
	"<div>\n*block*\n</div>",
	"<!-- comment --> text",
	"<?php echo 1; ?>",
	"<![CDATA[ x ]]>",
	"[click](javascript:alert(1))",
	"[click](JaVaScRiPt:alert(1))",
	"[click](&#106;avascript:alert(1))",
	"[click](java%0ascript:alert(1))",
	"[click](vbscript:msgbox)",
	"[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
	"[click](//evil.example/)",
	"[click](/\\evil.example/)",
	"[click](\"onmouseover=alert(1))",
	"[a](http://x \"title\" onclick=alert(1))",
	"![x](javascript:alert(1))",
	"![x\"onerror=alert(1)](http://x/a.png)",
	"![](data:image/png;base64,AAAA)",
	"<javascript:alert(1)>",
	"<http://x/\"onmouseover=\"alert(1)>",
	"<mailto:ann@example.com>",
	"ann@example.com and www.example.com/a?b=<c>",
	"https://example.com/\"><script>x</script>",
	"[x]: javascript:alert(1)\n\n[x]",
	"``` js\"onload=x\ncode <b>\n```",
	"```<script>\nx\n```",
	"`<script>` and @ann",
	"[@ann](http://x) @bob_c @@x a@b @-x- @ab @" + strings.Repeat("a", 40),
	"# Title\n###### six\n> quote <i>\n1. one\n2. two\n\n- [ ] x\n\n---",
	"*a **b _c_ d** e*\\\nnext line",
	"<style>body{}</style><iframe src=x></iframe>",
	"&lt;script&gt; &amp; &#x3c;b&#x3e;",
	"\x00\x01<b>\ufffd",
}

func TestMarkdownRendersOnlyAllowedMarkup(t *testing.T) {
	for _, in := range nastyMarkdown {
		checkMarkup(t, in, render(t, Markdown(in)))
	}
}

func FuzzMarkdown(f *testing.F) {
	for _, in := range nastyMarkdown {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkMarkup(t, in, render(t, Markdown(in)))
	})
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		not      []string
	}{
		{"paragraphs and emphasis", "one *two* **three**\n\nfour", []string{"<p>one <em>two</em> <strong>three</strong></p>", "<p>four</p>"}, nil},
		{"a line break stays one", "one\ntwo", []string{"one<br>\ntwo"}, nil},
		{"links get rel", "[site](https://example.com/a)", []string{`<a href="https://example.com/a" rel="nofollow ugc noopener">site</a>`}, nil},
		{"bare addresses become links", "see https://example.com/x and www.example.org", []string{`<a href="https://example.com/x" rel="nofollow ugc noopener">https://example.com/x</a>`, `<a href="http://www.example.org" rel="nofollow ugc noopener">www.example.org</a>`}, nil},
		{"e-mail addresses become mailto links", "mail ann@example.com", []string{`<a href="mailto:ann@example.com" rel="nofollow ugc noopener">ann@example.com</a>`}, []string{"/u/"}},
		{"lists and quotes", "- a\n- b\n\n> q", []string{"<ul>\n<li>a</li>\n<li>b</li>\n</ul>", "<blockquote>\n<p>q</p>\n</blockquote>"}, nil},
		{"code", "`x<y`\n\n```go\nif a < b {}\n```", []string{"<code>x&lt;y</code>", `<pre><code class="language-go">if a &lt; b {}`}, nil},
		{"raw HTML is shown as text", "hi <b onclick=x>there</b>", []string{"hi &lt;b onclick=x&gt;there&lt;/b&gt;"}, []string{"<b"}},
		{"HTML blocks are shown as text", "<script>\nalert(1)\n</script>", []string{"&lt;script&gt;<br>\nalert(1)<br>\n&lt;/script&gt;"}, []string{"<script"}},
		{"javascript links are text", "[x](javascript:alert(1))", []string{"<p>x</p>"}, []string{"<a", "javascript"}},
		{"images are links", "![a cat](https://example.com/cat.png)", []string{`<a href="https://example.com/cat.png" rel="nofollow ugc noopener">a cat</a>`}, []string{"<img"}},
		{"headings sit below the page's", "# Big", []string{"<h3>Big</h3>"}, []string{"<h1"}},
		{"mentions link to the person", "hi @ann_b and @Bob.", []string{`hi <a href="/u/ann_b">@ann_b</a> and <a href="/u/Bob">@Bob</a>.`}, nil},
		{"no mention in code or links", "`@ann` [@bob](https://x.example) a@cat.example", nil, []string{"/u/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, Markdown(tt.in))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Markdown(%q): got %q, want it to contain %q", tt.in, got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("Markdown(%q): got %q, want no %q", tt.in, got, n)
				}
			}
			checkMarkup(t, tt.in, got)
		})
	}
}

func BenchmarkMarkdown(b *testing.B) {
	comment := "Thanks @ann, that *works*. See https://example.com/docs and `go test`:\n\n- one\n- two\n\n> quoted"
	var w strings.Builder
	for b.Loop() {
		w.Reset()
		if err := Markdown(comment).Render(b.Context(), &w); err != nil {
			b.Fatal(err)
		}
	}
}
