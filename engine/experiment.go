package engine

import (
	"hash/fnv"
	"strconv"
)

// AssignVariant returns the index of the variant of experiment x that
// visitor goes into in playbook playbook. It is a pure function of its
// arguments: the same visitor gets the same variant on every process and
// after restarts, and as long as the experiment's variants and weights stay
// the same. Variant i gets a share Weight/Total of visitors: the 64-bit
// FNV-1a hash of "playbook/experiment" and the visitor id, mixed by the
// SplitMix64 finalizer, is reduced modulo Total and falls into the
// variants' weights laid end to end.
func AssignVariant(playbook string, x *Experiment, visitor string) int {
	if x == nil || len(x.Variants) == 0 {
		return -1
	}
	total := x.Total
	if total <= 0 {
		for _, v := range x.Variants {
			total += max(v.Weight, 0)
		}
		if total <= 0 {
			return 0
		}
	}
	h := fnv.New64a()
	h.Write([]byte(playbook))
	h.Write([]byte{'/'})
	h.Write([]byte(x.Name))
	h.Write([]byte{0})
	h.Write([]byte(visitor))
	b := mix64(h.Sum64()) % uint64(total)
	for i, v := range x.Variants {
		w := uint64(max(v.Weight, 0))
		if b < w {
			return i
		}
		b -= w
	}
	return len(x.Variants) - 1
}

// mix64 is SplitMix64's finalizer: it spreads FNV's weak low bits over the
// whole word, so that ids differing in their last character land in
// unrelated buckets.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// variant returns the index of the variant of c's experiment the session
// is in, assigning it (and emitting EffectVariant) the first time. The
// visitor's id keys the assignment; a session without one is keyed by its
// own id (sticky for that conversation only).
func (r *runner) variant(c *Card) int {
	x := c.Experiment
	s := r.s
	if name, ok := s.Variants[x.Name]; ok {
		for i, v := range x.Variants {
			if v.Name == name {
				return i
			}
		}
	}
	key := s.Visitor.ID
	if key == "" {
		key = "session:" + s.ID
	}
	i := AssignVariant(r.p.ID, x, key)
	if s.Variants == nil {
		s.Variants = make(map[string]string, 1)
	}
	s.Variants[x.Name] = x.Variants[i].Name
	r.out = append(r.out, Effect{Kind: EffectVariant, Card: c.Name, Variant: &VariantChoice{Experiment: x.Name, Variant: x.Variants[i].Name}})
	return i
}

// VariantShares returns each variant's expected share of visitors, from 0
// to 1, in order.
func (x *Experiment) VariantShares() []float64 {
	out := make([]float64, len(x.Variants))
	if x.Total <= 0 {
		return out
	}
	for i, v := range x.Variants {
		out[i] = float64(v.Weight) / float64(x.Total)
	}
	return out
}

// String names the experiment and its split: "greeting (a 50, b 50)".
func (x *Experiment) String() string {
	s := x.Name + " ("
	for i, v := range x.Variants {
		if i > 0 {
			s += ", "
		}
		s += v.Name + " " + strconv.Itoa(v.Weight)
	}
	return s + ")"
}
