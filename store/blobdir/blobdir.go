// Package blobdir keeps attachments (store.Blobs) in a directory: the
// embedded engine's data directory by default (DATA/files). Each file is
// written to a temporary name, synced and renamed, with its description
// (name, type, size) in a JSON file beside it written the same way first,
// so a crash leaves either the whole file or none. One process, or several
// on one shared file system.
package blobdir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/playbook-dev/playbook/store"
)

// Dir is a store.Blobs on a directory.
type Dir struct{ root string }

// Open returns the blob store in directory root, created if need be.
func Open(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blobdir: %w", err)
	}
	return &Dir{root: filepath.Clean(root)}, nil
}

// Root is the directory the files are kept in.
func (d *Dir) Root() string { return d.root }

type meta struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

func (d *Dir) path(key string) (string, error) {
	if !store.ValidBlobKey(key) {
		return "", fmt.Errorf("blobdir: invalid key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put stores the file (see store.Blobs).
func (d *Dir) Put(ctx context.Context, b store.Blob, r io.Reader) error {
	p, err := d.path(b.Key)
	if err != nil {
		return err
	}
	m, _ := json.Marshal(meta{Name: b.Name, Type: b.Type, Size: b.Size})
	// Delete removes a conversation's directory once it is empty: made
	// again when it went between MkdirAll and the write.
	for try := 0; ; try++ {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("blobdir: %w", err)
		}
		err = writeFile(p+".json", func(f *os.File) error { _, err := f.Write(m); return err })
		if err == nil {
			break
		}
		if try == 2 || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	err = writeFile(p, func(f *os.File) error {
		n, err := io.Copy(f, io.LimitReader(r, b.Size+1))
		if err == nil && n != b.Size {
			err = fmt.Errorf("blobdir: %d bytes read, %d expected", n, b.Size)
		}
		return err
	})
	if err != nil {
		os.Remove(p + ".json")
	}
	return err
}

// writeFile writes path through a temporary file, synced, then renamed.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("blobdir: %w", err)
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("blobdir: %w", err)
	}
	return nil
}

// Open returns the stored file (see store.Blobs).
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, store.Blob, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, store.Blob{}, store.ErrNotFound
	}
	raw, err := os.ReadFile(p + ".json")
	if errors.Is(err, os.ErrNotExist) {
		return nil, store.Blob{}, store.ErrNotFound
	}
	if err != nil {
		return nil, store.Blob{}, fmt.Errorf("blobdir: %w", err)
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, store.Blob{}, fmt.Errorf("blobdir: %s: %w", key, err)
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, store.Blob{}, store.ErrNotFound
	}
	if err != nil {
		return nil, store.Blob{}, fmt.Errorf("blobdir: %w", err)
	}
	return f, store.Blob{Key: key, Name: m.Name, Type: m.Type, Size: m.Size}, nil
}

// Delete removes the file (see store.Blobs).
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	for _, name := range []string{p, p + ".json"} {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("blobdir: %w", err)
		}
	}
	// The conversation's directory goes once it is empty (an error: it
	// is not, or already gone).
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// List calls each with every stored key (see store.Blobs): the files
// whose description is there, and the descriptions a crash left without
// their file (so that deleting the key clears them). Temporary files are
// not keys.
func (d *Dir) List(ctx context.Context, each func(key string) error) error {
	var eachErr error
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if k, ok := strings.CutSuffix(key, ".json"); ok {
			// A description: listed only when its file is missing.
			if _, err := os.Lstat(strings.TrimSuffix(p, ".json")); !store.ValidBlobKey(k) || !errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			key = k
		} else if !store.ValidBlobKey(key) {
			return nil
		}
		eachErr = each(key)
		return eachErr
	})
	if eachErr != nil {
		return eachErr
	}
	if err != nil {
		return fmt.Errorf("blobdir: list: %w", err)
	}
	return nil
}
