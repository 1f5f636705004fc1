package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/blobdir"
	"github.com/playbook-dev/playbook/store/s3blob"
)

// fileFlags are serve's attachment options.
type fileFlags struct {
	dir                  *string
	endpoint, bucket     *string
	prefix, region       *string
	accessKey, secretKey *string
	maxMB                *float64
	types                *string
}

func addFileFlags(fs *flag.FlagSet) *fileFlags {
	return &fileFlags{
		dir:       fs.String("files-dir", "", "where attachments are kept when no --s3-endpoint is given (default: DATA/files, in the --data directory; with --redis: ./data/files, which only processes sharing that directory see)"),
		endpoint:  fs.String("s3-endpoint", "", "keep attachments in S3-compatible object storage at this address, e.g. https://s3.eu-west-1.amazonaws.com or http://minio:9000; needed when several serve processes run on different machines"),
		bucket:    fs.String("s3-bucket", "", "with --s3-endpoint: the bucket (it must exist)"),
		prefix:    fs.String("s3-prefix", "", "with --s3-endpoint: a prefix for every object's name, e.g. playbook/"),
		region:    fs.String("s3-region", "", "with --s3-endpoint: the bucket's region (default: asked of the server)"),
		accessKey: fs.String("s3-access-key", "", "with --s3-endpoint: the access key; prefer PLAYBOOK_S3_ACCESS_KEY or AWS_ACCESS_KEY_ID"),
		secretKey: fs.String("s3-secret-key", "", "with --s3-endpoint: the secret key; prefer PLAYBOOK_S3_SECRET_KEY, AWS_SECRET_ACCESS_KEY or --s3-secret-key-file"),
		maxMB:     fs.Float64("max-file-mb", 10, "the largest attachment, in megabytes"),
		types:     fs.String("file-types", "", "comma-separated types attachments may have, as their content shows (default: image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,application/zip)"),
	}
}

// open returns the attachment store and limits the flags say, and logs
// which store is used. redis: the conversations are in Redis (several
// processes may run); data: the embedded store's directory.
func (f *fileFlags) open(ctx context.Context, log *slog.Logger, redis bool, data string) (store.Blobs, conversation.FileLimits, error) {
	lim := conversation.FileLimits{MaxSize: int64(*f.maxMB * (1 << 20)), Types: splitList(*f.types)}
	if *f.maxMB <= 0 {
		return nil, lim, usageError("--max-file-mb must be more than 0")
	}
	if *f.endpoint != "" {
		if *f.bucket == "" {
			return nil, lim, usageError("--s3-endpoint needs --s3-bucket")
		}
		b, err := s3blob.Open(s3blob.Options{Endpoint: *f.endpoint, Bucket: *f.bucket, Prefix: *f.prefix, Region: *f.region,
			AccessKey: *f.accessKey, SecretKey: *f.secretKey})
		if err != nil {
			return nil, lim, usageError("%v", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := b.Check(cctx); err != nil {
			return nil, lim, fmt.Errorf("attachments: %w", err)
		}
		log.Info("attachments are kept in S3-compatible object storage", "endpoint", *f.endpoint, "bucket", *f.bucket, "prefix", *f.prefix)
		return b, lim, nil
	}
	dir := *f.dir
	if dir == "" {
		dir = filepath.Join(data, "files")
	}
	d, err := blobdir.Open(dir)
	if err != nil {
		return nil, lim, err
	}
	if redis {
		log.Warn("attachments are kept in a local directory: with several serve processes, each sees only its own files unless they all share this directory (a network file system); give them S3-compatible storage with --s3-endpoint and --s3-bucket instead", "files-dir", d.Root())
	} else {
		log.Info("attachments are kept in the data directory", "files-dir", d.Root())
	}
	return d, lim, nil
}
