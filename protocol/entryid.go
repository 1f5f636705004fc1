package protocol

import (
	"strconv"
	"strings"
)

// EntryID is a transcript entry's id ("MS-SEQ": the milliseconds of its
// write and a sequence number within them), ordered as the transcript is.
// The zero EntryID is before every entry.
type EntryID struct{ MS, Seq uint64 }

// ParseEntryID reads an entry id; a malformed one reads as the zero
// EntryID (before every entry).
func ParseEntryID(s string) EntryID {
	a, b, _ := strings.Cut(s, "-")
	return EntryID{parseIDPart(a), parseIDPart(b)}
}

// parseIDPart reads one number of an entry id, 0 when it is malformed;
// an empty part is not handed to strconv, whose error would be two
// allocations (the zero id is every new conversation's start).
func parseIDPart(s string) uint64 {
	if s == "" {
		return 0
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// Less reports whether a comes before b in the transcript.
func (a EntryID) Less(b EntryID) bool { return a.MS < b.MS || (a.MS == b.MS && a.Seq < b.Seq) }

// String is the id as entries carry it; "" for the zero EntryID.
func (a EntryID) String() string {
	if a.MS == 0 && a.Seq == 0 {
		return ""
	}
	return strconv.FormatUint(a.MS, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}
