package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcRSSParts returns the two parts of a process's resident memory that
// matter for a server on the embedded store (Linux, /proc/PID/status):
// anon is its own memory (the Go heap, stacks: what would leak), file the
// pages of mapped files it has touched (the store's memory-mapped data
// file: it follows the data, and the kernel can drop it when memory is
// short). Bytes.
func ProcRSSParts(pid int) (anon, file int64, err error) {
	return procStatusKB(pid, "RssAnon", "RssFile")
}

// procStatusKB reads two fields of /proc/PID/status given in kB, in bytes.
func procStatusKB(pid int, first, second string) (a, b int64, err error) {
	a, b, err = statusPair("/proc/"+strconv.Itoa(pid)+"/status", first, second)
	return a << 10, b << 10, err
}

// statusPair reads two numeric fields of a /proc status file (a
// process's or a thread's), without their unit (" kB"); a field the file
// does not have is 0.
func statusPair(path, first, second string) (a, b int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != first && k != second) {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %s: %v", path, k, err)
		}
		if k == first {
			a = n
		} else {
			b = n
		}
	}
	return a, b, sc.Err()
}
