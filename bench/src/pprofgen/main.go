// The benchmark's large pprof: a heap profile written by Go's own runtime, with every
// allocation sampled (MemProfileRate = 1) over 8^DEPTH distinct call stacks.
//
//	go run main.go DEPTH OUT.pb.gz
//
// At each level, one of eight functions is called, chosen by the next octal digit of the path
// number, so every number below 8^DEPTH is its own call stack; the leaf allocates.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
)

var keep [][]byte

func alloc(n int) { keep = append(keep, make([]byte, 64+n%512)) }

func main() {
	runtime.MemProfileRate = 1
	depth, _ := strconv.Atoi(os.Args[1])
	// Every path of `depth` digits 0..7: the digits drive which function each level calls.
	total := 1
	for i := 0; i < depth; i++ {
		total *= 8
	}
	for p := 0; p < total; p++ {
		stepDigits(0, depth, p)
	}
	runtime.GC()
	f, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
	fmt.Println(total, "stacks")
}

// stepDigits walks one path: at each level the next digit of `digits` picks the function.
func stepDigits(level, depth, digits int) {
	if level == depth {
		alloc(digits)
		return
	}
	d := digits % 8
	rest := digits / 8
	switch d {
	case 0:
		g0(level+1, depth, rest)
	case 1:
		g1(level+1, depth, rest)
	case 2:
		g2(level+1, depth, rest)
	case 3:
		g3(level+1, depth, rest)
	case 4:
		g4(level+1, depth, rest)
	case 5:
		g5(level+1, depth, rest)
	case 6:
		g6(level+1, depth, rest)
	default:
		g7(level+1, depth, rest)
	}
}

//go:noinline
func g0(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g1(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g2(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g3(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g4(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g5(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g6(l, d, r int) { stepDigits(l, d, r) }

//go:noinline
func g7(l, d, r int) { stepDigits(l, d, r) }
