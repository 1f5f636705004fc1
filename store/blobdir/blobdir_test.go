package blobdir_test

import (
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
