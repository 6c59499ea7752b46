package ingest_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIngest: 16 producers push 20-result lab reports matched by
// barcode through the whole path (identify, store raw with fsync, map,
// attach). Reports/s is the figure that matters; group commit is what lets
// it exceed the disk's fsync rate.
func BenchmarkIngest(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.Name, func(b *testing.B) {
			w := setupB(b, d.Open)
			barcode := w.order.Specimens[0].Barcode
			var lines []string
			for i := 0; i < 20; i++ {
				lines = append(lines, fmt.Sprintf("%s|HGB|%d.%d", barcode, 120+i, i))
			}
			body := strings.Join(lines, "\n")
			var seq atomic.Int64
			const producers = 16
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + producers - 1) / producers
			for g := 0; g < producers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						n := seq.Add(1)
						// Distinct bytes per message, as real reports have.
						if err := w.p.Handle(w.ctx, w.env("XN-550", fmt.Sprint(n), body+fmt.Sprintf("\n%s|HGB|%d", barcode, n))); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "reports/s")
		})
	}
}
