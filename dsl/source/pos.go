package source

import "fmt"

// Pos is a position in a source file.
//
// Line and Column are 1-based; Column counts Unicode code points (runes), not
// bytes, as editors do. The zero Pos means "unknown".
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// IsValid reports whether p names a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Before reports whether p comes strictly before q.
func (p Pos) Before(q Pos) bool {
	return p.Line < q.Line || (p.Line == q.Line && p.Column < q.Column)
}

// Range is a span of one file. Start is inclusive and End is exclusive; an
// End equal to Start (or zero) means the range marks a single point.
type Range struct {
	Filename string `json:"file"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// String formats r as "file:line:col", the form editors and terminals link.
func (r Range) String() string {
	if !r.Start.IsValid() {
		return r.Filename
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// At returns a point range at line:col of file.
func At(file string, line, col int) Range {
	return Range{Filename: file, Start: Pos{line, col}, End: Pos{line, col}}
}
