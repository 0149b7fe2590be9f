package forum

import (
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// What a mention is is decided here, as Markdown reads the text, so that the
// people notified are exactly those whose names the page shows as links: an
// @name in code, in a link or in an address (ann@example.com) mentions no
// one.

// KindMention is the kind of a Mention node in a Markdown tree.
var KindMention = ast.NewNodeKind("Mention")

// Mention is an @name in Markdown text. Name is as written, without the @.
type Mention struct {
	ast.BaseInline
	Name string
}

// Kind implements ast.Node.
func (m *Mention) Kind() ast.NodeKind { return KindMention }

// Dump implements ast.Node.
func (m *Mention) Dump(source []byte, level int) {
	ast.DumpHelper(m, source, level, map[string]string{"Name": m.Name}, nil)
}

// MentionExtension makes goldmark read @name as a Mention. Linkify must come
// with it, so that addresses are read as links first.
var MentionExtension goldmark.Extender = mentionExtension{}

type mentionExtension struct{}

func (mentionExtension) Extend(m goldmark.Markdown) {
	// Before emphasis (priority 100 is the emphasis parser's), which would
	// otherwise take the underscore of a name such as ann_b.
	m.Parser().AddOptions(parser.WithInlineParsers(util.Prioritized(mentionParser{}, 90)))
}

type mentionParser struct{}

func (mentionParser) Trigger() []byte { return []byte{'@'} }

func (mentionParser) Parse(_ ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if pc.IsInLinkLabel() || insideWord(block.PrecendingCharacter()) {
		return nil
	}
	line, _ := block.PeekLine()
	n := 1
	for n < len(line) && n <= MaxNameLen+1 && isNameChar(rune(line[n])) {
		n++
	}
	name := string(line[1:n])
	if ValidateName(name) != nil {
		return nil
	}
	block.Advance(n)
	return &Mention{Name: name}
}

// isNameChar reports whether r may be part of a name.
func isNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// insideWord reports whether an @ after r is inside a word, an address or a
// path, and so no mention.
func insideWord(r rune) bool {
	return isNameChar(r) || strings.ContainsRune(".@/", r)
}

// mentionReader parses text for its mentions only; it renders nothing.
var mentionReader = goldmark.New(goldmark.WithExtensions(extension.Linkify, MentionExtension)).Parser()

// Mentions returns the names that text, read as Markdown, mentions: each
// once, case-insensitively, as first written, in order.
func Mentions(s string) []string {
	source := []byte(s)
	doc := mentionReader.Parse(text.NewReader(source))
	var names []string
	seen := map[string]bool{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if m, ok := n.(*Mention); ok && entering && !seen[strings.ToLower(m.Name)] {
			seen[strings.ToLower(m.Name)] = true
			names = append(names, m.Name)
		}
		return ast.WalkContinue, nil
	})
	return names
}

// newMentions returns the names that after mentions and before does not.
func newMentions(before, after string) []string {
	had := map[string]bool{}
	for _, n := range Mentions(before) {
		had[strings.ToLower(n)] = true
	}
	var names []string
	for _, n := range Mentions(after) {
		if !had[strings.ToLower(n)] {
			names = append(names, n)
		}
	}
	return names
}
