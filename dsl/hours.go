package dsl

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // hours name IANA zones; do not depend on the host's tz database

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// HoursFile is the name of the file, in a playbook folder, that declares
// the teams' opening hours.
const HoursFile = "hours.yaml"

func isHoursFile(p string) bool {
	b := filepath.Base(p)
	return b == HoursFile || b == "hours.yml"
}

var hourDays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// LoadHours reads an hours file:
//
//	hours:
//	  sales:
//	    zone: Europe/Berlin
//	    mon-fri: 09:00-17:30
//	    sat: 10:00-13:00, 14:00-16:00
//	    holidays: [2026-12-24, 2026-12-25]
//
// Days are mon..sun, a range (mon-fri) or a list (mon,wed); a day not
// written is closed. The zone is an IANA name and is required.
func LoadHours(name string, src []byte) (engine.Hours, source.Diagnostics) {
	var diags source.Diagnostics
	f := &fileCtx{name: name, src: src, lines: newLineIndex(src), diags: &diags}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		diags.Errorf(yamlErrorRange(name, err), "%s", yamlErrorMessage(err))
		return nil, diags
	}
	if len(doc.Content) == 0 {
		diags.Errorf(source.At(name, 1, 1), "the hours file is empty: write `hours:` with a team under it")
		return nil, diags
	}
	h := engine.Hours{}
	for _, top := range f.pairs(doc.Content[0], "the hours file", []string{"hours"}) {
		for _, tp := range f.pairs(top.value, "hours", nil) {
			team := tp.key.Value
			if !slugRE.MatchString(team) {
				f.errorf(tp.key, "team %q must be lowercase letters, digits and dashes, like sales", team)
				continue
			}
			th := &engine.TeamHours{Holidays: map[string]bool{}}
			hasZone := false
			for _, p := range f.pairs(tp.value, "team "+quote(team), nil) {
				switch k := p.key.Value; k {
				case "zone":
					s, ok := f.str(p.value, "zone")
					if !ok {
						continue
					}
					loc, err := time.LoadLocation(s)
					if err != nil || s == "" || s == "Local" {
						d := f.errorf(p.value, "unknown time zone %q", s)
						d.Detail = "write an IANA zone name such as Europe/Berlin, America/New_York or UTC"
						continue
					}
					th.Zone, hasZone = loc, true
				case "holidays":
					days, nodes := f.strList(p.value, "holidays")
					for i, d := range days {
						if _, err := time.Parse("2006-01-02", d); err != nil {
							f.errorf(nodes[i], "holiday %q is not a date like 2026-12-25", d)
							continue
						}
						th.Holidays[d] = true
					}
				default:
					days, err := parseDays(k)
					if err != nil {
						d := f.errorf(p.key, "%v", err)
						d.Detail = "write days as mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, or a list such as mon,wed; or zone: or holidays:"
						continue
					}
					spans, err := parseSpans(p.value)
					if err != nil {
						d := f.errorf(p.value, "%v", err)
						d.Detail = "write times as 09:00-17:30, several as 09:00-12:00, 13:00-17:00, or closed"
						continue
					}
					for _, wd := range days {
						th.Week[wd] = append(th.Week[wd], spans...)
					}
				}
			}
			if !hasZone && tp.value.Kind == yaml.MappingNode {
				d := f.errorf(tp.key, "team %q has no `zone:`", team)
				d.Detail = "add the time zone its hours are in, such as zone: Europe/Berlin"
			}
			h[team] = th
		}
	}
	if diags.HasErrors() {
		return nil, finish(diags)
	}
	return h, finish(diags)
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, d := range strings.Split(strings.ToLower(s), ",") {
		d = strings.TrimSpace(d)
		a, b, isRange := strings.Cut(d, "-")
		from, ok1 := hourDays[a]
		to, ok2 := hourDays[b]
		if !ok1 || isRange && !ok2 {
			return nil, fmt.Errorf("%q is not a day or a range of days like mon-fri", d)
		}
		if !isRange {
			to = from
		}
		for i := from; ; i = (i + 1) % 7 {
			out = append(out, i)
			if i == to {
				break
			}
		}
	}
	return out, nil
}

func parseSpans(n *yaml.Node) ([]engine.Span, error) {
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("opening hours must be a time range like 09:00-17:30")
	}
	if strings.EqualFold(strings.TrimSpace(n.Value), "closed") {
		return nil, nil
	}
	var out []engine.Span
	for _, r := range strings.Split(n.Value, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(r), "-")
		a, err1 := clock(from)
		b, err2 := clock(to)
		if !ok || err1 != nil || err2 != nil || b <= a {
			return nil, fmt.Errorf("%q is not a time range like 09:00-17:30", strings.TrimSpace(r))
		}
		out = append(out, engine.Span{From: a, To: b})
	}
	return out, nil
}

// clock reads 09:00 or 24:00 as minutes after midnight.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}
