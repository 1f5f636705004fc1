package engine

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// FunnelTime is one of FunnelCounted.At: a fact's name, and when it
// happened in milliseconds after the session's StartedAt.
type FunnelTime struct {
	Fact string
	Ms   int64
}

// FunnelTimes are FunnelCounted.At, sorted by the facts' names, each
// named once: usually one (the question the conversation waits on), so a
// list, which a new record copies into room it has (no allocation), where
// a map took two. Its JSON is the object of the names to the times that
// FunnelCounted.At was stored as when it was a map (the keys sorted, as
// encoding/json writes a map), so either reads what the other wrote.
type FunnelTimes []FunnelTime

// FunnelTimesOf returns m's times as FunnelTimes.
func FunnelTimesOf(m map[string]int64) FunnelTimes {
	if len(m) == 0 {
		return nil
	}
	t := make(FunnelTimes, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		t = append(t, FunnelTime{Fact: k, Ms: m[k]})
	}
	return t
}

func (t FunnelTimes) find(fact string) (int, bool) {
	return slices.BinarySearchFunc(t, fact, func(x FunnelTime, fact string) int { return strings.Compare(x.Fact, fact) })
}

// Get returns the time of fact, and whether t has it.
func (t FunnelTimes) Get(fact string) (int64, bool) {
	if i, ok := t.find(fact); ok {
		return t[i].Ms, true
	}
	return 0, false
}

// Set returns t with fact's time ms. It changes t in place: only for
// times of one's own (a record shared with others is copied first).
func (t FunnelTimes) Set(fact string, ms int64) FunnelTimes {
	i, ok := t.find(fact)
	if ok {
		t[i].Ms = ms
		return t
	}
	return slices.Insert(t, i, FunnelTime{Fact: fact, Ms: ms})
}

// Delete returns t without fact's time, changed in place as Set.
func (t FunnelTimes) Delete(fact string) FunnelTimes {
	if i, ok := t.find(fact); ok {
		return slices.Delete(t, i, i+1)
	}
	return t
}

// MarshalJSON writes t as the object of the names to the times.
func (t FunnelTimes) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 32*len(t)+2), '{')
	for i, x := range t {
		if i > 0 {
			b = append(b, ',')
		}
		name, err := json.Marshal(x.Fact)
		if err != nil {
			return nil, err
		}
		b = append(append(b, name...), ':')
		b = strconv.AppendInt(b, x.Ms, 10)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the object of the names to the times (null: none).
func (t *FunnelTimes) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = FunnelTimesOf(m)
	return nil
}
