package blobdir_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/blobdir"
	"github.com/playbook-dev/playbook/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Blobs(t, func(t *testing.T) func() store.Blobs {
		dir := t.TempDir()
		return func() store.Blobs {
			d, err := blobdir.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	})
}

// TestDeleteLeavesNoDirectoryAndListsAHalfPut: deleting a conversation's
// last file removes its directory (a put there afterwards works), and a
// description a crashed put left without its file is listed, so that the
// sweep's delete clears it.
func TestDeleteLeavesNoDirectoryAndListsAHalfPut(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := blobdir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, store.Blob{Key: "conv1/a", Name: "a.txt", Type: "text/plain", Size: 2}, strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "conv1/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "conv1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the empty conversation directory: %v, want it gone", err)
	}
	if err := d.Put(ctx, store.Blob{Key: "conv1/b", Name: "b.txt", Type: "text/plain", Size: 2}, strings.NewReader("hi")); err != nil {
		t.Fatalf("a put after the directory went: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "conv2"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "conv2", "c.json"), []byte(`{"name":"c.txt"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := d.List(ctx, func(key string) error { got = append(got, key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"conv1/b", "conv2/c"}) {
		t.Fatalf("listed %q, want conv1/b and the half put conv2/c", got)
	}
	if err := d.Delete(ctx, "conv2/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "conv2")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after deleting the half put: %v, want conv2 gone", err)
	}
}
