package redis

import (
	"encoding/binary"
	"hash/crc64"
	"strconv"
)

// A start's inbox record and a new visitor's list are written with one
// RESTORE each (turn.lua) instead of HSET and PEXPIRE, ZADD and PEXPIRE:
// the payload is what Redis 7.0's DUMP writes for a small hash or sorted
// set kept as a listpack (RDB types 16 and 17, RDB version 10), the
// listpack byte for byte the one HSET or ZADD of the same members in the
// same order builds (TestDumpPayloadIsWhatRedisBuilds), so what is stored
// and every reader's view are the same. Redis takes a payload of its own
// RDB version or an older one.
const (
	rdbTypeHashListpack = 16
	rdbTypeZsetListpack = 17
	rdbVersion          = 10
	// maxListpackValue is Redis's default hash-max-listpack-value and
	// zset-max-listpack-value: a record with a longer field or value is
	// written by HSET, which keeps it in a hash table.
	maxListpackValue = 64
)

// crcJones is Redis's CRC-64 (Jones polynomial, reflected; crc64.c).
var crcJones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// dumpPayload returns the RESTORE payload of an object of RDB type typ
// kept as the listpack of elems (a hash: field, value, ...; a sorted set:
// member, score, ..., in score order).
func dumpPayload(typ byte, elems ...string) []byte {
	lp := 7 // header (6) and end (1)
	for _, e := range elems {
		lp += lpEntryLen(e)
	}
	b := make([]byte, 0, 1+5+lp+10)
	b = append(b, typ)
	// The listpack as an RDB string, not compressed.
	switch {
	case lp < 1<<6:
		b = append(b, byte(lp))
	case lp < 1<<14:
		b = append(b, byte(lp>>8)|0x40, byte(lp))
	default:
		b = append(b, 0x80)
		b = binary.BigEndian.AppendUint32(b, uint32(lp))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(lp))
	b = binary.LittleEndian.AppendUint16(b, uint16(min(len(elems), 65535)))
	for _, e := range elems {
		b = lpAppend(b, e)
	}
	b = append(b, 0xff)
	b = binary.LittleEndian.AppendUint16(b, rdbVersion)
	return binary.LittleEndian.AppendUint64(b, crc64Update(b))
}

// crc64Update is Redis's crc64(0, b): it starts at 0 with no final XOR,
// where Go's crc64 inverts both.
func crc64Update(b []byte) uint64 { return ^crc64.Update(^uint64(0), crcJones, b) }

// lpInt reports whether Redis keeps s in a listpack as an integer
// (lpStringToInt64: a decimal without leading zeros, "-0" or "+").
func lpInt(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	d := s
	if d[0] == '-' {
		d = d[1:]
	}
	// Digits only, no leading zero (but "0"): checked before ParseInt,
	// whose error for a text allocates.
	if d == "" || d[0] == '0' && (len(d) > 1 || len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// lpEncLen is the length of e's encoding in a listpack, without its
// back length.
func lpEncLen(e string) int {
	if v, ok := lpInt(e); ok {
		switch {
		case v >= 0 && v <= 127:
			return 1
		case v >= -4096 && v <= 4095:
			return 2
		case v >= -32768 && v <= 32767:
			return 3
		case v >= -8388608 && v <= 8388607:
			return 4
		case v >= -2147483648 && v <= 2147483647:
			return 5
		}
		return 9
	}
	switch n := len(e); {
	case n < 64:
		return 1 + n
	case n < 4096:
		return 2 + n
	default:
		return 5 + n
	}
}

// lpBacklenLen is the length of the back length of an entry of l bytes.
func lpBacklenLen(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

func lpEntryLen(e string) int { l := lpEncLen(e); return l + lpBacklenLen(l) }

// lpAppend appends e's listpack entry (lpEncodeGetType, lpEncodeBacklen).
func lpAppend(b []byte, e string) []byte {
	l := lpEncLen(e)
	if v, ok := lpInt(e); ok {
		switch l {
		case 1:
			b = append(b, byte(v))
		case 2:
			if v < 0 {
				v += 1 << 13
			}
			b = append(b, byte(v>>8)|0xc0, byte(v))
		case 3:
			b = append(b, 0xf1, byte(v), byte(v>>8))
		case 4:
			b = append(b, 0xf2, byte(v), byte(v>>8), byte(v>>16))
		case 5:
			b = append(b, 0xf3)
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		default:
			b = append(b, 0xf4)
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	} else {
		switch n := len(e); {
		case n < 64:
			b = append(b, byte(n)|0x80)
		case n < 4096:
			b = append(b, byte(n>>8)|0xe0, byte(n))
		default:
			b = append(b, 0xf0)
			b = binary.LittleEndian.AppendUint32(b, uint32(n))
		}
		b = append(b, e...)
	}
	switch {
	case l <= 127:
		b = append(b, byte(l))
	case l < 16383:
		b = append(b, byte(l>>7), byte(l&127)|128)
	case l < 2097151:
		b = append(b, byte(l>>14), byte((l>>7)&127)|128, byte(l&127)|128)
	case l < 268435455:
		b = append(b, byte(l>>21), byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	default:
		b = append(b, byte(l>>28), byte((l>>21)&127)|128, byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	}
	return b
}

// listpackable reports whether Redis keeps a new hash or sorted set of
// elems as a listpack (by its default hash-max-listpack-value and
// -entries): then its RESTORE payload stores what HSET or ZADD would.
func listpackable(elems []string) bool {
	if len(elems) > 2*128 {
		return false
	}
	for _, e := range elems {
		if len(e) > maxListpackValue {
			return false
		}
	}
	return true
}
