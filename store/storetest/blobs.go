package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/store"
)

// Blobs runs the attachment store tests; open returns a fresh, empty store
// and, called again, another instance on the same data (a second process).
func Blobs(t *testing.T, open func(t *testing.T) func() store.Blobs) {
	ctx := context.Background()
	read := func(t *testing.T, bs store.Blobs, key string) ([]byte, store.Blob) {
		t.Helper()
		r, b, err := bs.Open(ctx, key)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		defer r.Close()
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		return data, b
	}
	t.Run("PutOpenAcrossInstances", func(t *testing.T) {
		inst := open(t)
		a, b := inst(), inst()
		body := bytes.Repeat([]byte("%PDF-1.4 \x00\xff"), 1000)
		name := `Angebot "Q3" – Müller, 50%.pdf`
		if err := a.Put(ctx, store.Blob{Key: "conv1/file1", Name: name, Type: "application/pdf", Size: int64(len(body))}, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		got, bl := read(t, b, "conv1/file1")
		if !bytes.Equal(got, body) {
			t.Fatalf("read %d bytes, stored %d", len(got), len(body))
		}
		if bl != (store.Blob{Key: "conv1/file1", Name: name, Type: "application/pdf", Size: int64(len(body))}) {
			t.Fatalf("blob = %+v", bl)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		bs := open(t)()
		if _, _, err := bs.Open(ctx, "conv1/nothing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("open a missing key: %v, want ErrNotFound", err)
		}
		if err := bs.Delete(ctx, "conv1/nothing"); err != nil {
			t.Fatalf("delete a missing key: %v", err)
		}
	})
	t.Run("HostileKeys", func(t *testing.T) {
		bs := open(t)()
		for _, key := range []string{"../escape", "conv/../../etc/passwd", "/abs", "a\\b", "", "a//b", "a/b/", "with space", "a/b/c/d/e"} {
			if err := bs.Put(ctx, store.Blob{Key: key, Name: "x", Type: "text/plain", Size: 1}, strings.NewReader("x")); err == nil {
				t.Errorf("put %q: stored, want refused", key)
			}
			if _, _, err := bs.Open(ctx, key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("open %q: %v, want ErrNotFound", key, err)
			}
		}
	})
	t.Run("ShortReaderStoresNothing", func(t *testing.T) {
		bs := open(t)()
		err := bs.Put(ctx, store.Blob{Key: "conv1/short", Name: "a.txt", Type: "text/plain", Size: 100}, strings.NewReader("only 13 bytes"))
		if err == nil {
			t.Fatal("a reader 87 bytes short was stored")
		}
		if _, _, err := bs.Open(ctx, "conv1/short"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after a failed put: %v, want ErrNotFound", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		bs := open(t)()
		if err := bs.Put(ctx, store.Blob{Key: "conv2/f", Name: "a.txt", Type: "text/plain", Size: 2}, strings.NewReader("hi")); err != nil {
			t.Fatal(err)
		}
		if err := bs.Delete(ctx, "conv2/f"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := bs.Open(ctx, "conv2/f"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v, want ErrNotFound", err)
		}
	})
	t.Run("ListAndDeleteWhileListing", func(t *testing.T) {
		bs := open(t)()
		keys := []string{"conv3/a", "conv3/b", "conv4/c"}
		for _, k := range keys {
			if err := bs.Put(ctx, store.Blob{Key: k, Name: "a.txt", Type: "text/plain", Size: 2}, strings.NewReader("hi")); err != nil {
				t.Fatal(err)
			}
		}
		// A put that failed leaves nothing to list.
		bs.Put(ctx, store.Blob{Key: "conv4/short", Name: "a.txt", Type: "text/plain", Size: 100}, strings.NewReader("short"))
		list := func() []string {
			t.Helper()
			var got []string
			if err := bs.List(ctx, func(key string) error { got = append(got, key); return nil }); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			return got
		}
		if got := list(); !slices.Equal(got, keys) {
			t.Fatalf("listed %q, want %q", got, keys)
		}
		stop := errors.New("stop")
		calls := 0
		if err := bs.List(ctx, func(string) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("a listing whose callback failed: %v after %d calls, want stop after 1", err, calls)
		}
		err := bs.List(ctx, func(key string) error {
			if strings.HasPrefix(key, "conv3/") {
				return bs.Delete(ctx, key)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := list(); !slices.Equal(got, []string{"conv4/c"}) {
			t.Fatalf("after deleting conv3's files while listing: %q, want conv4/c", got)
		}
		if _, _, err := bs.Open(ctx, "conv3/a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a file deleted while listing: %v, want ErrNotFound", err)
		}
	})
}
