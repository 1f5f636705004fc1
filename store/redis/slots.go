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
// conversation ids: 1 slot in 64 takes ids, so a Store on a Cluster draws
// about 64 ids for one (a CRC16 each).
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
// placed shard. On one Redis node every id is taken as it is.
func (s *Store) PlaceID(id []byte) (string, bool) {
	if s.oneNode {
		return string(id), true
	}
	crc := crc16(0, "c:")
	for _, c := range id {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^c]
	}
	crc = crc16(crc, string(placedMark))
	if placedShard[crc%clusterSlots] < 0 {
		return "", false
	}
	return string(id) + string(placedMark), true
}
