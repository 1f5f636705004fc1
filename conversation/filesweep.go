package conversation

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/handoff"
)

// Attachments follow the retention (issue 14). A conversation's files
// are kept as long as the conversation is: while its session lives
// (Options.IdleTTL after the last turn) or its inbox record does
// (Options.Retention after the last activity) or its transcript is kept
// for a person's feed (store.Sessions.KeepTranscript: as long as the CRM's
// records), whose entries link them. Once all are gone, the file sweep
// (PurgeFiles: when Run starts, then hourly, by the process holding the
// fleet's lease) deletes them. It decides by what the store still has,
// whose expiry runs on the engine's clock, never by the time on the files.

// filesBatch is how many conversations the file sweep looks up at once.
const filesBatch = 500

// PurgeFiles deletes the attachments (Config.Files) of the conversations
// that are gone (no session, no inbox record, no kept transcript) and returns how many files
// it deleted. Files of a key that names no conversation (no '/') are left
// alone.
func (s *Service) PurgeFiles(ctx context.Context) (int, error) {
	if s.cfg.Files == nil {
		return 0, nil
	}
	n := 0
	pending := map[string][]string{} // conversation -> its keys seen
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		alive, err := s.store.Alive(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if alive[id] {
				continue
			}
			_, err := s.inbox.Conversation(ctx, id)
			if !errors.Is(err, handoff.ErrNotFound) {
				if err != nil {
					return err
				}
				continue // its record keeps it
			}
			// A transcript a person's feed links (KeepTranscript) outlives
			// the conversation, and its entries link the files.
			if kept, err := s.store.Transcript(ctx, id, "", 1); err != nil {
				return err
			} else if len(kept) > 0 {
				continue
			}
			for _, key := range pending[id] {
				if err := s.cfg.Files.Delete(ctx, key); err != nil {
					return err
				}
				n++
			}
		}
		clear(pending)
		return nil
	}
	err := s.cfg.Files.List(ctx, func(key string) error {
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			return nil
		}
		pending[key[:i]] = append(pending[key[:i]], key)
		if len(pending) >= filesBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// FilesSweepEvery is how often each process asks to run the file sweep.
const FilesSweepEvery = time.Hour

// filesLease is the name of the file sweep's lease (store.Leases).
const filesLease = "purge-files"

// fileLoop runs PurgeFiles when Run starts, then every FilesSweepEvery
// (real time, like the timer loop's pace), until ctx is done, each time
// only when this process takes the fleet's lease of the sweep (a bucket is
// listed once an hour a fleet, not once an hour a process). The lease is
// held a minute less than the interval, so that its holder's next ask
// finds it free; a process that dies holding it delays the sweep by at
// most an interval. Apart from the timer loop: listing a large bucket
// must not delay timers.
func (s *Service) fileLoop(ctx context.Context) {
	if s.cfg.Files == nil {
		return
	}
	tick := time.NewTicker(FilesSweepEvery)
	defer tick.Stop()
	for {
		if s.takeLease(ctx, filesLease, FilesSweepEvery-time.Minute, "delete the files of expired conversations") {
			if n, err := s.PurgeFiles(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("deleting the files of expired conversations", "err", err)
			} else if n > 0 {
				s.log.Info("deleted the files of expired conversations", "files", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
