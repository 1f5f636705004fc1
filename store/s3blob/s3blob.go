// Package s3blob keeps attachments (store.Blobs) in S3-compatible object
// storage (AWS S3, MinIO, Ceph, R2, ...) through minio-go: the store for
// deployments of many processes, which share no directory. The file's
// name goes in its object's metadata (URL-escaped: metadata is ASCII), its
// type as the object's Content-Type.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/playbook-dev/playbook/store"
)

// Options say where the bucket is.
type Options struct {
	// Endpoint is the server's address: "host:port" or a URL
	// ("https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000");
	// a bare host:port is HTTPS.
	Endpoint string
	// Bucket is the bucket the files go in; it must exist.
	Bucket string
	// Prefix starts every object's name (e.g. "playbook/"); default none.
	Prefix string
	// AccessKey and SecretKey sign the requests (from the environment,
	// never the command line: see docs/operations.md).
	AccessKey, SecretKey string
	// Region is the bucket's region; default: asked of the server.
	Region string
}

// Bucket is a store.Blobs on an S3 bucket.
type Bucket struct {
	c      *minio.Client
	bucket string
	prefix string
}

// Open returns the blob store on opts' bucket. It asks nothing of the
// server; Check does.
func Open(opts Options) (*Bucket, error) {
	if opts.Endpoint == "" || opts.Bucket == "" {
		return nil, errors.New("s3blob: an endpoint and a bucket are required")
	}
	host, secure := opts.Endpoint, true
	if u, err := url.Parse(opts.Endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		host, secure = u.Host, u.Scheme == "https"
	}
	c, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure: secure,
		Region: opts.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	return &Bucket{c: c, bucket: opts.Bucket, prefix: opts.Prefix}, nil
}

// Check reports whether the bucket exists and the keys may see it.
func (b *Bucket) Check(ctx context.Context) error {
	ok, err := b.c.BucketExists(ctx, b.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %s: %w", b.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: no bucket %s", b.bucket)
	}
	return nil
}

const nameMeta = "Playbook-Name"

// Put stores the file (see store.Blobs).
func (b *Bucket) Put(ctx context.Context, bl store.Blob, r io.Reader) error {
	if !store.ValidBlobKey(bl.Key) {
		return fmt.Errorf("s3blob: invalid key %q", bl.Key)
	}
	_, err := b.c.PutObject(ctx, b.bucket, b.prefix+bl.Key, r, bl.Size, minio.PutObjectOptions{
		ContentType:  bl.Type,
		UserMetadata: map[string]string{nameMeta: url.PathEscape(bl.Name)},
	})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", bl.Key, err)
	}
	return nil
}

// Open returns the stored file (see store.Blobs).
func (b *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, store.Blob, error) {
	if !store.ValidBlobKey(key) {
		return nil, store.Blob{}, store.ErrNotFound
	}
	obj, err := b.c.GetObject(ctx, b.bucket, b.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, store.Blob{}, b.err(key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, store.Blob{}, b.err(key, err)
	}
	name := st.UserMetadata[nameMeta]
	for k, v := range st.UserMetadata { // servers differ in the case they give back
		if strings.EqualFold(k, nameMeta) {
			name = v
		}
	}
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	return obj, store.Blob{Key: key, Name: name, Type: st.ContentType, Size: st.Size}, nil
}

func (b *Bucket) err(key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey || minio.ToErrorResponse(err).StatusCode == 404 {
		return store.ErrNotFound
	}
	return fmt.Errorf("s3blob: %s: %w", key, err)
}

// Delete removes the file (see store.Blobs).
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if !store.ValidBlobKey(key) {
		return fmt.Errorf("s3blob: invalid key %q", key)
	}
	if err := b.c.RemoveObject(ctx, b.bucket, b.prefix+key, minio.RemoveObjectOptions{}); err != nil && !errors.Is(b.err(key, err), store.ErrNotFound) {
		return fmt.Errorf("s3blob: delete %s: %w", key, err)
	}
	return nil
}

// List calls each with every stored key (see store.Blobs): the bucket's
// objects under the prefix, a page of 1,000 at a time.
func (b *Bucket) List(ctx context.Context, each func(key string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing's goroutine when each fails
	for obj := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("s3blob: list: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, b.prefix)
		if !store.ValidBlobKey(key) {
			continue
		}
		if err := each(key); err != nil {
			return err
		}
	}
	return ctx.Err()
}
