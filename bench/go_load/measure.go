// Measuring helpers, ported from bench/metrics.ts so the Go load reports the
// same figures as the Deno one: message tags, the latency histogram and CPU
// shares read from /proc.
package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

var started = time.Now()

// nowUs is microseconds since the process started, like nowUs() in metrics.ts.
func nowUs() int64 { return time.Since(started).Microseconds() }

// formatTag is metrics.ts formatTag: `~sender.step.seq.sentUs~`, plain ASCII
// that JSON never escapes, so it can be found in the raw bytes of any frame.
func formatTag(sender, step, seq int, sentUs int64) string {
	return fmt.Sprintf("~%d.%d.%d.%d~", sender, step, seq, sentUs)
}

// readDigits reads the decimal number at b[p]; ok is false without a digit.
func readDigits(b []byte, p int) (value int64, stop int, ok bool) {
	stop = p
	for stop < len(b) && b[stop] >= '0' && b[stop] <= '9' {
		value = value*10 + int64(b[stop]-'0')
		stop++
	}
	return value, stop, stop > p
}

// scanTags finds every tag in b, hands each to onTag and returns how many it
// found; batch frames cost one pass, with no JSON decoding.
func scanTags(b []byte, onTag func(sender, step, seq int, sentUs int64)) int {
	found := 0
	for i := bytes.IndexByte(b, '~'); i >= 0; {
		close := readTag(b, i, onTag)
		next := i + 1
		if close >= 0 {
			found++
			next = close + 1
		}
		j := bytes.IndexByte(b[next:], '~')
		if j < 0 {
			break
		}
		i = next + j
	}
	return found
}

// readTag reads the tag opening at b[i]; returns its closing `~` or -1.
func readTag(b []byte, i int, onTag func(sender, step, seq int, sentUs int64)) int {
	var fields [4]int64
	p := i + 1
	for f := range fields {
		value, stop, ok := readDigits(b, p)
		want := byte('.')
		if f == len(fields)-1 {
			want = '~'
		}
		if !ok || stop >= len(b) || b[stop] != want {
			return -1
		}
		fields[f] = value
		p = stop + 1
	}
	onTag(int(fields[0]), int(fields[1]), int(fields[2]), fields[3])
	return p - 1
}

// 10 µs buckets up to 100 ms, then 1 ms buckets up to 60 s: metrics.ts Histogram.
const (
	fineUs        = 10
	fineBuckets   = 10_000
	coarseUs      = 1000
	coarseBuckets = 60_000
)

// histogram is a latency histogram in microseconds with a fixed memory cost.
type histogram struct {
	counts [fineBuckets + coarseBuckets]uint32
	count  int
	maxUs  int64
}

func (h *histogram) record(us int64) {
	if us < 0 {
		us = 0
	}
	bucket := int(us / fineUs)
	if bucket >= fineBuckets {
		bucket = fineBuckets + min(coarseBuckets-1, int((us-fineBuckets*fineUs)/coarseUs))
	}
	h.counts[bucket]++
	h.count++
	if us > h.maxUs {
		h.maxUs = us
	}
}

// quantileUs is the q-quantile as its bucket's upper edge; 0 when empty.
func (h *histogram) quantileUs(q float64) int64 {
	if h.count == 0 {
		return 0
	}
	rank := int(math.Max(1, math.Ceil(q*float64(h.count))))
	seen := 0
	for b, c := range h.counts {
		seen += int(c)
		if seen >= rank {
			edge := int64((b + 1) * fineUs)
			if b >= fineBuckets {
				edge = fineBuckets*fineUs + int64(b-fineBuckets+1)*coarseUs
			}
			if edge > h.maxUs {
				return h.maxUs
			}
			return edge
		}
	}
	return h.maxUs
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// clockTicks is sysconf(_SC_CLK_TCK), 100 on every Linux Deno ships for.
const clockTicks = 100

// cpuSeconds is user plus system CPU time of a process, from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(stat)
	// The command name may hold spaces; the fields after it are plain.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, false
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / clockTicks, true
}

// descendants lists every process pid started, from the main thread's
// children file, as metrics.ts descendants does.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		text, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
		if err != nil {
			continue
		}
		for _, word := range strings.Fields(string(text)) {
			child, err := strconv.Atoi(word)
			if err == nil && child > 0 && !contains(out, child) {
				out = append(out, child)
				queue = append(queue, child)
			}
		}
	}
	return out
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// cpuMeter measures the CPU share of processes over a window.
type cpuMeter struct {
	pids []int
	cpu0 []float64
	ok0  []bool
	t0   time.Time
}

// startMeter opens a window for pid (0: unknown, reads as idle), with its
// descendants when children is set (WORKERS>1 does its work in a child).
func startMeter(pid int, children bool) *cpuMeter {
	m := &cpuMeter{t0: time.Now()}
	if pid > 0 {
		m.pids = []int{pid}
		if children {
			m.pids = append(m.pids, descendants(pid)...)
		}
	}
	for _, p := range m.pids {
		cpu, ok := cpuSeconds(p)
		m.cpu0 = append(m.cpu0, cpu)
		m.ok0 = append(m.ok0, ok)
	}
	return m
}

// share is CPU seconds per wall second since the window opened (1 = one core).
func (m *cpuMeter) share() float64 {
	wall := time.Since(m.t0).Seconds()
	used := 0.0
	for i, p := range m.pids {
		// A process that left mid-window adds nothing rather than a negative.
		if cpu, ok := cpuSeconds(p); ok && m.ok0[i] {
			used += cpu - m.cpu0[i]
		}
	}
	if wall <= 0 {
		return 0
	}
	return used / wall
}
