package dsl

import (
	"unicode/utf8"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
)

// lineIndex maps byte offsets of a file to lines and columns.
type lineIndex struct {
	src    []byte
	starts []int // byte offset of each line's first byte; starts[0] == 0
}

func newLineIndex(src []byte) *lineIndex {
	starts := []int{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return &lineIndex{src: src, starts: starts}
}

// offset returns the byte offset of 1-based line and rune column.
func (li *lineIndex) offset(line, col int) int {
	if line < 1 || line > len(li.starts) {
		return len(li.src)
	}
	i := li.starts[line-1]
	for c := 1; c < col && i < len(li.src) && li.src[i] != '\n'; c++ {
		_, n := utf8.DecodeRune(li.src[i:])
		i += n
	}
	return i
}

// pos returns the line and rune column of byte offset off.
func (li *lineIndex) pos(off int) source.Pos {
	lo, hi := 0, len(li.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	start := li.starts[lo]
	return source.Pos{Line: lo + 1, Column: utf8.RuneCount(li.src[start:min(off, len(li.src))]) + 1}
}

// valuePos returns the source position of the rune at offset runeOff in the
// decoded value of scalar node n. It works for every scalar style: plain,
// single- and double-quoted (escapes included) and block scalars (| and >).
// It walks the raw text and the value side by side: runes that the style
// removes (quotes, indentation, line folds, escape backslashes) are skipped
// in the source until the next value rune matches.
func (li *lineIndex) valuePos(n *yaml.Node, runeOff int) source.Pos {
	i := li.offset(n.Line, n.Column)
	src := li.src
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		i++ // the opening quote
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		for i < len(src) && src[i] != '\n' { // the header line: | or >, indicators, comment
			i++
		}
		i++
	}
	dq := n.Style&yaml.DoubleQuotedStyle != 0
	val := n.Value
	for k := 0; k < runeOff && len(val) > 0; k++ {
		v, vn := utf8.DecodeRuneInString(val)
		val = val[vn:]
		i = li.seek(i, v, dq)
		if i >= len(src) {
			return li.pos(len(src))
		}
		if dq && src[i] == '\\' {
			i = skipEscape(src, i)
		} else {
			_, sn := utf8.DecodeRune(src[i:])
			i += sn
		}
	}
	if len(val) > 0 {
		v, _ := utf8.DecodeRuneInString(val)
		i = li.seek(i, v, dq)
	}
	return li.pos(i)
}

// seek advances i to the next source rune that produces value rune v.
func (li *lineIndex) seek(i int, v rune, dq bool) int {
	src := li.src
	for i < len(src) {
		r, n := utf8.DecodeRune(src[i:])
		if r == v {
			return i
		}
		if dq && r == '\\' && i+1 < len(src) && src[i+1] != '\n' && src[i+1] != '\r' {
			return i // an escape sequence stands for v
		}
		i += n
	}
	return i
}

func skipEscape(src []byte, i int) int {
	i++ // the backslash
	if i >= len(src) {
		return i
	}
	switch src[i] {
	case 'x':
		return min(len(src), i+3)
	case 'u':
		return min(len(src), i+5)
	case 'U':
		return min(len(src), i+9)
	}
	return i + 1
}
