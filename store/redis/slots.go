package redis

import (
	"strconv"
)

// Funnel shards that share a conversation's slot.
//
// A Redis Cluster runs a script only on keys of one hash slot. A
// conversation's keys are in the slot of its tag ({c:ID}); the funnel
// rollup's (Funnels) in the slots of its shards' tags ({fn:N}). For the
// turn script to fold a turn's facts on a Cluster as it does on one node,
// the conversation's shard must be in the conversation's slot. So the
// rollup has, besides fnvShards shards chosen by a hash of the id (those
// of every id made before), PlacedShards shards whose
// tags are in PlacedShards distinct slots, and a Store on a Cluster takes
// only the conversation ids in one of those slots (PlaceID): such an id,
// a placed id, ends in placedMark, which no id made before does, and
// folds into the shard of its own slot. The ids are placed, not the keys:
// resharding moves slots whole, and a placed conversation's shard moves
// with it.
//
// The shards' names, and so the placed slots, must never change: every
// process of a deployment, and every version after this one, computes the
// same ones (placedTags).

// PlacedShards is how many funnel shards share their slot with placed
// conversation ids: 1 slot in 64 takes ids (PlaceID changes an id's last
// three characters to land it in one).
const PlacedShards = 256

// fnvShards is how many funnel shards the ids that are not placed are
// spread over (by FNV-1a): shards 0..fnvShards-1.
const fnvShards = 16

// placedMark ends a placed id: not in the alphabet of conversation ids
// (conversation.NewIDAt), so no id made before a Store placed ids ends in
// it.
const placedMark = '1'

// clusterSlots is Redis Cluster's number of hash slots.
const clusterSlots = 16384

// placedShard[slot] is the placed shard (an index of Funnels' shards,
// fnvShards and up) whose tag is in slot, or -1.
var placedShard = placedTags()

// placedTags finds the placed shards: shard n's tag is "fn:n"; from n =
// fnvShards up, each n whose slot no shard before took, until there are
// PlacedShards of them.
func placedTags() *[clusterSlots]int16 {
	var t [clusterSlots]int16
	for i := range t {
		t[i] = -1
	}
	found := 0
	for n := fnvShards; found < PlacedShards; n++ {
		s := slot("fn:" + strconv.Itoa(n))
		if t[s] >= 0 {
			continue
		}
		t[s] = int16(fnvShards + found)
		placedNames[found] = n
		found++
	}
	return &t
}

// placedNames[i] is the n of placed shard fnvShards+i's tag "fn:n".
var placedNames [PlacedShards]int

// slot is Redis Cluster's hash slot of a key's tag: CRC16 (XMODEM) mod
// 16384.
func slot(tag string) uint16 { return crc16(0, tag) % clusterSlots }

// crc16 is crc (XMODEM) continued over s.
func crc16(crc uint16, s string) uint16 {
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^s[i]]
	}
	return crc
}

var crc16tab = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// placedShardOf is the shard a placed id folds into, or -1 when id is not
// placed.
func placedShardOf(id string) int {
	if len(id) == 0 || id[len(id)-1] != placedMark {
		return -1
	}
	// The conversation's tag, as Store.keys writes it.
	return int(placedShard[slot("c:"+id)])
}

// PlaceID implements store.PlacedIDs on a Cluster: the id (made by
// conversation.NewIDAt) with placedMark, when that lands in the slot of a
// placed shard; else the same with its last three characters changed so
// that it does (placeTail), which takes every id of NewIDAt's. On one
// Redis node every id is taken as it is.
func (s *Store) PlaceID(id []byte) (string, bool) {
	if s.oneNode {
		return string(id), true
	}
	n := len(id)
	if n < 3 || n > 64 {
		return "", false
	}
	// The tag's CRC is linear in its bytes (CRC16 XMODEM: no initial
	// value, no final XOR): that of "c:" + id + placedMark is the CRC with
	// the last three characters zero (head) XOR theirs alone (tail).
	head := crc16(0, "c:")
	for _, c := range id[:n-3] {
		head = head<<8 ^ crc16tab[byte(head>>8)^c]
	}
	head = crc16(head, "\x00\x00\x00"+string(placedMark))
	var tail uint16
	for _, c := range [4]byte{id[n-3], id[n-2], id[n-1]} {
		tail = tail<<8 ^ crc16tab[byte(tail>>8)^c]
	}
	if placedShard[(head^tail)%clusterSlots] >= 0 {
		return string(id) + string(placedMark), true
	}
	// The placed slots in turn, from one the drawn tail picks (its own
	// random bits), until a tail of placeTails lands the id in one.
	start := int(tail)
	for k := range PlacedShards {
		slot := placedSlots[(start+k)%PlacedShards]
		t := placeTails[(head^slot)%clusterSlots]
		if t < 0 {
			continue
		}
		var b [65]byte
		copy(b[:], id)
		b[n-3], b[n-2], b[n-1] = tailChars(int(t))
		b[n] = placedMark
		return string(b[:n+1]), true
	}
	return "", false
}

// idAlphabet is conversation.NewIDAt's: base32 of 16 bytes, in 26
// characters, the last of which holds 3 bits (its lower 2 are 0).
const idAlphabet = "234567abcdefghijklmnopqrstuvwxyz"

// tailChars are the last three characters of an id from t's 13 bits (5,
// 5 and 3): such as NewIDAt makes.
func tailChars(t int) (byte, byte, byte) {
	return idAlphabet[t>>8&31], idAlphabet[t>>3&31], idAlphabet[(t&7)<<2]
}

// placeTails[v] is a tail (tailChars) whose CRC alone, with the zero that
// placedMark's place gives it, is v in its low 14 bits, or -1: 8,192
// tails cover 6,840 of the 16,384 values. placedSlots are the
// placed slots, in slot order.
var placeTails, placedSlots = placeTables()

func placeTables() (*[clusterSlots]int16, *[PlacedShards]uint16) {
	var tails [clusterSlots]int16
	for i := range tails {
		tails[i] = -1
	}
	for t := range 1 << 13 {
		a, b, c := tailChars(t)
		v := crc16(0, string([]byte{a, b, c, 0})) % clusterSlots
		if tails[v] < 0 {
			tails[v] = int16(t)
		}
	}
	var slots [PlacedShards]uint16
	n := 0
	for s, sh := range placedShard {
		if sh >= 0 {
			slots[n] = uint16(s)
			n++
		}
	}
	return &tails, &slots
}
