package store

import (
	"context"
	"io"
	"regexp"
)

// Blob describes a stored file (an attachment): its key, the name it was
// given (shown and offered on download; already made safe by the caller),
// its content type (sniffed by the caller, never the client's word) and
// its size in bytes.
type Blob struct {
	Key  string
	Name string
	Type string
	Size int64
}

// Blobs keeps files by key, outside the conversation store: the embedded
// engine's data directory (store/blobdir) or S3-compatible object storage
// (store/s3blob), for deployments of many processes. Keys are
// ValidBlobKey; a key stored once is never written again.
type Blobs interface {
	// Put stores b.Size bytes read from r under b.Key, with b's name and
	// type. A reader that ends early, or an invalid key, is an error and
	// leaves nothing stored.
	Put(ctx context.Context, b Blob, r io.Reader) error
	// Open returns the file stored under key and its description;
	// ErrNotFound when there is none. The caller closes the reader.
	Open(ctx context.Context, key string) (io.ReadCloser, Blob, error)
	// Delete removes the file stored under key; none is no error.
	Delete(ctx context.Context, key string) error
	// List calls each with the key of every stored file, in no set
	// order (the retention sweep's walk: Service.PurgeFiles); a file
	// stored or deleted meanwhile may or may not be seen, and each may
	// Delete the key it is given. An error of each stops the listing and
	// is returned.
	List(ctx context.Context, each func(key string) error) error
}

var blobKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}(/[A-Za-z0-9_-]{1,100}){0,3}$`)

// ValidBlobKey reports whether key may name a blob: one to four segments
// of letters, digits, '-' and '_' joined by '/', so that no key climbs out
// of a directory or means anything to a file system or a URL.
func ValidBlobKey(key string) bool { return blobKey.MatchString(key) }
