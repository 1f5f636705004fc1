package s3blob_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/s3blob"
	"github.com/playbook-dev/playbook/store/storetest"
)

// fakeS3 serves an S3-compatible server (gofakes3, in memory) over HTTP on
// loopback for the test and returns its endpoint.
func fakeS3(t *testing.T, buckets ...string) string {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	return ts.URL
}

var n atomic.Int64

func TestConformance(t *testing.T) {
	storetest.Blobs(t, func(t *testing.T) func() store.Blobs {
		endpoint := fakeS3(t, "files")
		prefix := "p" + strconv.FormatInt(n.Add(1), 10) + "/"
		return func() store.Blobs {
			b, err := s3blob.Open(s3blob.Options{Endpoint: endpoint, Bucket: "files", Prefix: prefix, AccessKey: "key", SecretKey: "secret", Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	})
}

func TestCheckNamesAMissingBucket(t *testing.T) {
	endpoint := fakeS3(t, "files")
	ctx := context.Background()
	for bucket, ok := range map[string]bool{"files": true, "nope": false} {
		b, err := s3blob.Open(s3blob.Options{Endpoint: endpoint, Bucket: bucket, AccessKey: "key", SecretKey: "secret", Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Check(ctx); (err == nil) != ok {
			t.Errorf("bucket %s: Check = %v", bucket, err)
		}
	}
}
