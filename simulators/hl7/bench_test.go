package hl7

import (
	"context"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
)

// BenchmarkRunNoopServer measures the simulator and the MLLP server
// alone (the handler stores nothing): the ceiling the simulator puts on
// an end-to-end measurement. go test -bench RunNoop -benchtime 5000x
func BenchmarkRunNoopServer(b *testing.B) {
	ok := listeners.HandlerFunc(func(context.Context, *listeners.Envelope) error { return nil })
	addr := serve(b, &mllp.Server{Handler: ok})
	b.ReportAllocs()
	b.ResetTimer()
	rep, err := Run(context.Background(), Config{Addr: addr, Count: b.N, Conns: 16, Kind: "cbc"})
	if err != nil {
		b.Fatal(err)
	}
	if rep.Acked["AA"] != int64(b.N) {
		b.Fatalf("%+v", rep)
	}
	b.ReportMetric(rep.Throughput, "msgs/s")
	b.ReportMetric(float64(rep.Latency.P99.Microseconds())/1e3, "p99-ms")
}
