// Package imaging is the MIS side of DICOM: the Modality Worklist and
// study-level query providers the DICOM listener calls, and the
// stabilizer that completes imaging orders once their studies are quiet.
package imaging

import (
	"context"
	"log/slog"
	"time"

	"github.com/medgate/medgate/mis/store"
)

// Stabilizer completes an imaging order once its study has received no
// instance for Quiet: a modality sends a study as many associations over
// minutes, and nothing says "the study is complete".
type Stabilizer struct {
	Store store.ImagingStore
	Quiet time.Duration // required
	// Every is how often to look; 0 means Quiet/5, at least a second.
	Every  time.Duration
	Logger *slog.Logger
}

// Run looks until ctx ends; it returns nil then.
func (s *Stabilizer) Run(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = max(s.Quiet/5, time.Second)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		done, err := s.Store.CompleteStableStudies(ctx, time.Now().Add(-s.Quiet))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("completing stable studies failed", "err", err)
		case len(done) > 0:
			log.Info("imaging orders completed: their studies are stable", "orders", done)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
