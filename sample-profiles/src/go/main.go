// A small Go program for stacklens' pprof samples: CPU work in a few functions, some of them
// under pprof labels, and allocations for the heap profile. Run by ../../record-pprof.sh.
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

// keep holds allocations so the heap profile has in-use memory.
var keep [][]byte

//go:noinline
func tokenize(text string) []string {
	return strings.Fields(text)
}

// square is small enough to be inlined into sumSquares: the profile shows it as an inlined line.
func square(x int) int { return x * x }

//go:noinline
func sumSquares(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += square(i) % 7
	}
	return s
}

//go:noinline
func hashRounds(data []byte, rounds int) [32]byte {
	h := sha256.Sum256(data)
	for i := 0; i < rounds; i++ {
		h = sha256.Sum256(h[:])
	}
	return h
}

//go:noinline
func sortWords(words []string) {
	for i := 0; i < 20; i++ {
		w := append([]string(nil), words...)
		sort.Strings(w)
	}
}

//go:noinline
func allocate(n, size int) {
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		if i%4 == 0 {
			keep = append(keep, b)
		}
	}
}

func work(deadline time.Time) int {
	text := strings.Repeat("the quick brown fox jumps over the lazy dog ", 200)
	total := 0
	for time.Now().Before(deadline) {
		pprof.Do(context.Background(), pprof.Labels("stage", "parse"), func(context.Context) {
			words := tokenize(text)
			sortWords(words)
			total += len(words)
		})
		pprof.Do(context.Background(), pprof.Labels("stage", "hash"), func(context.Context) {
			h := hashRounds([]byte(text), 2000)
			total += int(h[0])
		})
		total += sumSquares(3_000_000)
		allocate(64, 4096)
	}
	return total
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: work CPU.pb.gz HEAP.pb.gz")
		os.Exit(2)
	}
	runtime.MemProfileRate = 4096
	cpu, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	total := work(time.Now().Add(1500 * time.Millisecond))
	pprof.StopCPUProfile()
	cpu.Close()
	heap, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(heap); err != nil {
		panic(err)
	}
	heap.Close()
	fmt.Println(total, len(keep))
}
