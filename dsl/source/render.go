package source

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Files maps a file name to its content, for rendering snippets.
type Files map[string][]byte

// Render writes each diagnostic as
//
//	file:line:col: error: message
//	   12 |     goto: emial
//	      |           ^~~~~
//	      = did you mean "email"?
//
// The snippet is left out when the file or line is unknown.
func Render(w io.Writer, files Files, ds Diagnostics) {
	for _, d := range ds {
		fmt.Fprintf(w, "%s: %s: %s\n", d.Subject, d.Severity, d.Summary)
		if line, ok := lineOf(files[d.Subject.Filename], d.Subject.Start.Line); ok {
			writeSnippet(w, line, d.Subject)
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "      = %s\n", d.Detail)
		}
	}
}

// Snippet returns the caret snippet for r alone (without the header line).
func Snippet(src []byte, r Range) string {
	line, ok := lineOf(src, r.Start.Line)
	if !ok {
		return ""
	}
	var b strings.Builder
	writeSnippet(&b, line, r)
	return b.String()
}

func writeSnippet(w io.Writer, line string, r Range) {
	line = strings.ReplaceAll(line, "\t", " ")
	col := max(r.Start.Column, 1)
	n := utf8.RuneCountInString(line)
	width := 1
	if r.End.Line == r.Start.Line && r.End.Column > col {
		width = r.End.Column - col
	}
	if col-1+width > n+1 {
		width = max(1, n+1-(col-1))
	}
	fmt.Fprintf(w, "%5d | %s\n", r.Start.Line, line)
	fmt.Fprintf(w, "      | %s^%s\n", strings.Repeat(" ", col-1), strings.Repeat("~", width-1))
}

func lineOf(src []byte, n int) (string, bool) {
	if src == nil || n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		j := strings.IndexByte(string(src), '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := strings.IndexByte(string(src), '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r"), true
}
