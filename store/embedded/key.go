package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Keys are tuples of parts, encoded so that byte order is the parts' order
// (as FoundationDB's tuple layer does): a scan over a prefix of parts
// visits its keys sorted by the next part, numbers by value and strings
// by bytes. K("c", id) is a prefix of K("c", id, "m", n) but never of
// K("c", id+"x"): a string part ends with a terminator.
//
// Encoding: a string (or []byte) is 0x02, its bytes with 0x00 written as
// 0x00 0xff, then 0x00; an int64 is 0x15 and 8 big-endian bytes with the
// sign bit flipped; a uint64 is 0x16 and 8 big-endian bytes; a time.Time
// is its Unix nanoseconds as an int64. Keys starting with 0x00 are the
// DB's own (the expiry index): K never makes one.
const (
	tagString = 0x02
	tagInt    = 0x15
	tagUint   = 0x16
)

// K encodes parts (string, []byte, int, int64, uint64, time.Time) as a key.
// It panics on another type: keys are built from constants and ids in
// code, never from unchecked input types.
func K(parts ...any) []byte {
	return AppendKey(make([]byte, 0, keySize(parts)), parts...)
}

// keySize is the size of K(parts...) when no string part holds a 0x00 (a
// part that does only makes AppendKey grow the buffer): one allocation
// per key.
func keySize(parts []any) int {
	n := 0
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			n += 2 + len(p)
		case []byte:
			n += 2 + len(p)
		default:
			n += 9
		}
	}
	return n
}

// AppendKey appends the encoding of parts to k.
func AppendKey(k []byte, parts ...any) []byte {
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			k = appendString(k, p)
		case []byte:
			k = appendString(k, string(p))
		case int:
			k = appendInt(k, int64(p))
		case int64:
			k = appendInt(k, p)
		case uint64:
			k = append(k, tagUint)
			k = binary.BigEndian.AppendUint64(k, p)
		case time.Time:
			k = appendInt(k, p.UnixNano())
		default:
			panic(fmt.Sprintf("embedded.K: unsupported key part %T", p))
		}
	}
	return k
}

func appendString(k []byte, s string) []byte {
	k = append(k, tagString)
	for i := 0; i < len(s); i++ {
		k = append(k, s[i])
		if s[i] == 0 {
			k = append(k, 0xff)
		}
	}
	return append(k, 0)
}

func appendInt(k []byte, n int64) []byte {
	k = append(k, tagInt)
	return binary.BigEndian.AppendUint64(k, uint64(n)^(1<<63))
}

var errBadKey = errors.New("embedded: malformed key")

// SplitKey decodes a key made by K into its parts: strings come back as
// string, int64 and time.Time parts as int64, uint64 as uint64.
func SplitKey(k []byte) ([]any, error) {
	var out []any
	for len(k) > 0 {
		switch k[0] {
		case tagString:
			var s []byte
			i := 1
			for {
				if i >= len(k) {
					return nil, errBadKey
				}
				if k[i] == 0 {
					if i+1 < len(k) && k[i+1] == 0xff {
						s = append(s, 0)
						i += 2
						continue
					}
					break
				}
				s = append(s, k[i])
				i++
			}
			out = append(out, string(s))
			k = k[i+1:]
		case tagInt, tagUint:
			if len(k) < 9 {
				return nil, errBadKey
			}
			u := binary.BigEndian.Uint64(k[1:9])
			if k[0] == tagInt {
				out = append(out, int64(u^(1<<63)))
			} else {
				out = append(out, u)
			}
			k = k[9:]
		default:
			return nil, errBadKey
		}
	}
	return out, nil
}

// PrefixEnd returns the first key after every key that starts with
// prefix (nil when there is none), the end of a prefix scan.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// MaxInt is the largest int64, for an open-ended range of int parts.
const MaxInt = math.MaxInt64
