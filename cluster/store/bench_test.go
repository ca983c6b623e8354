package store

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// Write throughput of one server on real disk (every commit is fsynced by
// bbolt): one writer at a time, then many, whose entries raft batches.
func BenchmarkCreate(b *testing.B) {
	value := make([]byte, 1024) // about a small Kubernetes object
	for _, mode := range []string{"sequential", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			s := openServer(b, Config{ID: "bench", Bootstrap: true})
			waitLeader(b, s)
			ctx := ctxT(b)
			var n atomic.Int64
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			if mode == "sequential" {
				for i := 0; i < b.N; i++ {
					if _, err := s.Create(ctx, fmt.Sprintf("/bench/%09d", i), value); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(16) // writers per CPU: an API server's concurrent requests
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Create(ctx, fmt.Sprintf("/bench/%09d", n.Add(1)), value); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
