package source

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a diagnostic stops a playbook from going live.
type Severity int

const (
	// Error diagnostics reject the playbook.
	Error Severity = iota + 1
	// Warning diagnostics are reported but the playbook still loads.
	Warning
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "unknown"
}

// MarshalText writes the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Diagnostic is one problem found in a source file.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Summary is one line, lower case, no trailing period: what is wrong.
	Summary string `json:"message"`
	// Detail is optional further help, such as a suggested fix.
	Detail string `json:"detail,omitempty"`
	// Subject is where the problem is. Subject.Start may be zero when the
	// problem concerns the whole file.
	Subject Range `json:"range"`
}

// Error formats d as "file:line:col: severity: summary".
func (d *Diagnostic) Error() string {
	var b strings.Builder
	b.WriteString(d.Subject.String())
	b.WriteString(": ")
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(" (")
		b.WriteString(d.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is a list of problems. A non-empty list with at least one
// error is usable as an error value.
type Diagnostics []*Diagnostic

// Errorf appends an error at r.
func (ds *Diagnostics) Errorf(r Range, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Severity: Error, Summary: fmt.Sprintf(format, args...), Subject: r}
	*ds = append(*ds, d)
	return d
}

// Warnf appends a warning at r.
func (ds *Diagnostics) Warnf(r Range, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Severity: Warning, Summary: fmt.Sprintf(format, args...), Subject: r}
	*ds = append(*ds, d)
	return d
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errs returns only the errors.
func (ds Diagnostics) Errs() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders ds by file, then position, then severity (errors first), then
// message, so output is stable whatever order the checks ran in.
func (ds Diagnostics) Sort() {
	slices.SortStableFunc(ds, func(a, b *Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Line, b.Subject.Start.Line),
			cmp.Compare(a.Subject.Start.Column, b.Subject.Start.Column),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Summary, b.Summary),
		)
	})
}

// Error joins the errors (not the warnings), one per line.
func (ds Diagnostics) Error() string {
	var lines []string
	for _, d := range ds {
		if d.Severity == Error {
			lines = append(lines, d.Error())
		}
	}
	return strings.Join(lines, "\n")
}
