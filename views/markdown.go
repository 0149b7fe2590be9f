package views

import (
	"bytes"
	"context"
	stdhtml "html"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"

	"forum/forum"
)

// linkRel is the rel of every link that a user wrote: search engines are not
// to credit it, and the page it opens gets no handle on the forum's.
const linkRel = "nofollow ugc noopener"

// markdown renders what users write: CommonMark with bare addresses made
// links and @name linked to the person's page. A line break is kept as one,
// as people who write in a text box expect. Raw HTML is shown as the text it
// is, links go only to http, https, mailto or this site, images are shown
// as links (the content policy loads no images from elsewhere), and
// headings start at level 3, below the page's own.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Linkify, forum.MentionExtension),
	goldmark.WithRendererOptions(
		html.WithHardWraps(),
		// Before goldmark's own HTML renderer (priority 1000), which
		// renders every other node.
		renderer.WithNodeRenderers(util.Prioritized(userTextRenderer{}, 100)),
	),
)

// Markdown renders text, as a user wrote it, as HTML.
func Markdown(text string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		var b bytes.Buffer
		if err := markdown.Convert([]byte(text), &b); err != nil {
			return err
		}
		// goldmark ends each block with a line break, which would be text
		// after the last one.
		_, err := w.Write(bytes.TrimRight(b.Bytes(), "\n"))
		return err
	})
}

// userTextRenderer renders the nodes whose HTML must be stricter than
// goldmark's, and mentions.
type userTextRenderer struct{}

func (userTextRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindLink, renderLink)
	reg.Register(ast.KindAutoLink, renderAutoLink)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindHeading, renderHeading)
	reg.Register(forum.KindMention, renderMention)
}

// safeHref returns dest as an href, and whether it may be one: an http,
// https or mailto address or one on this site. goldmark only refuses the
// schemes it knows to be dangerous; this admits only those known to be safe.
// dest may hold character references, which a browser would decode in the
// attribute: it is decoded first, so that what is checked is what a browser
// follows.
func safeHref(dest []byte) (string, bool) {
	href := stdhtml.UnescapeString(string(dest))
	u, err := url.Parse(href)
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", false
		}
	case "mailto":
	case "":
		// A path, query or fragment of this site, but not a
		// scheme-relative //host, nor a backslash that browsers read as a
		// slash.
		if u.Host != "" || strings.HasPrefix(href, "//") || strings.ContainsRune(href, '\\') {
			return "", false
		}
	default:
		return "", false
	}
	return string(util.URLEscape([]byte(href), true)), true
}

func openLink(w util.BufWriter, href string) {
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML([]byte(href)))
	_, _ = w.WriteString(`" rel="` + linkRel + `">`)
}

// renderLink renders a link to a safe address; a link to any other renders
// as its text alone.
func renderLink(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	href, ok := safeHref(node.(*ast.Link).Destination)
	switch {
	case !ok:
	case entering:
		openLink(w, href)
	default:
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderAutoLink(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.AutoLink)
	dest := n.URL(source)
	if n.AutoLinkType == ast.AutoLinkEmail && !bytes.HasPrefix(bytes.ToLower(dest), []byte("mailto:")) {
		dest = append([]byte("mailto:"), dest...)
	}
	label := util.EscapeHTML(n.Label(source))
	href, ok := safeHref(dest)
	if ok {
		openLink(w, href)
	}
	_, _ = w.Write(label)
	if ok {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

// renderImage renders an image as a link to it, labelled with its
// description, or the address when it has none.
func renderImage(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Image)
	href, ok := safeHref(n.Destination)
	if entering {
		if ok {
			openLink(w, href)
		}
		if n.FirstChild() == nil {
			_, _ = w.Write(util.EscapeHTML(n.Destination))
		}
	} else if ok {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := node.(*ast.RawHTML).Segments
		for i := range segs.Len() {
			seg := segs.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
	}
	return ast.WalkSkipChildren, nil
}

// renderHTMLBlock renders a block of HTML as the paragraph of text it was
// written as.
func renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.HTMLBlock)
	_, _ = w.WriteString("<p>")
	lines := n.Lines()
	for i := range lines.Len() {
		if i > 0 {
			_, _ = w.WriteString("<br>\n")
		}
		line := lines.At(i)
		_, _ = w.Write(util.EscapeHTML(bytes.TrimRight(line.Value(source), "\r\n")))
	}
	if n.HasClosure() {
		_, _ = w.WriteString("<br>\n")
		_, _ = w.Write(util.EscapeHTML(bytes.TrimRight(n.ClosureLine.Value(source), "\r\n")))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func renderHeading(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	tag := "h" + strconv.Itoa(min(node.(*ast.Heading).Level+2, 6))
	if entering {
		_, _ = w.WriteString("<" + tag + ">")
	} else {
		_, _ = w.WriteString("</" + tag + ">\n")
	}
	return ast.WalkContinue, nil
}

func renderMention(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		name := node.(*forum.Mention).Name
		_, _ = w.WriteString(`<a href="`)
		_, _ = w.WriteString(UserURL(name))
		_, _ = w.WriteString(`">@`)
		_, _ = w.Write(util.EscapeHTML([]byte(name)))
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

// UserURL is the address of a person's page. Names are letters, digits, _
// and -, which need no escaping.
func UserURL(name string) string {
	return "/u/" + name
}
