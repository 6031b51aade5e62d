// Workload B, as runCapacity in bench/load.ts: one room, open-loop publishing
// at doubling rates until p99 latency or loss breaks.
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// capacity is the state the reader goroutines share with the stepper; mu guards all of it.
type capacity struct {
	mu         sync.Mutex
	members    int
	step       int
	capacityOf int      // messages the current step may send; sizes seen
	seen       []uint32 // one bit per (recipient, message) of the step
	sent       int
	delivered  int
	duplicated int
	stray      int
	frames     int // frames that carried messages, to see how the server batches
	hist       *histogram
	allHist    *histogram
}

// deliver counts the tags of one frame received by member i at nowUs.
func (c *capacity) deliver(i int, probe bool, frame []byte, now int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := i * c.capacityOf
	found := scanTags(frame, func(_, step, seq int, sentUs int64) {
		if step != c.step || seq >= c.sent {
			c.stray++
			return
		}
		bit := base + seq
		mask := uint32(1) << (bit & 31)
		if c.seen[bit>>5]&mask != 0 {
			c.duplicated++
			return
		}
		c.seen[bit>>5] |= mask
		c.delivered++
		if probe {
			c.hist.record(now - sentUs)
		}
		c.allHist.record(now - sentUs)
	})
	if found > 0 {
		c.frames++
	}
	return found
}

// readLoop reads member i's socket until it ends, one message at a time into a reused buffer.
func (c *capacity) readLoop(l *load, i int, probe bool, conn *websocket.Conn) {
	buf := make([]byte, 0, 4096)
	raw := conn.UnderlyingConn().(*pacedConn)
	for {
		kind, r, err := conn.NextReader()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			continue
		}
		if buf, err = readInto(buf[:0], r); err != nil {
			return
		}
		l.frames.Add(1)
		// A frame's events arrived with the read that completed it.
		if c.deliver(i, probe, buf, raw.readUs) == 0 {
			l.untagged(buf)
		}
	}
}

// readInto appends all of r to buf, growing it only when a message is bigger than any before.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func messageFrame(tag string) []byte {
	return []byte(`{"type":"message","text":"` + tag + `"}`)
}

func runCapacity(l *load, cfg capacityConfig) (*capacityResult, error) {
	n := int(cfg.Members)
	probeEvery := max(1, int(cfg.ProbeEvery))
	cookies := make([]string, n)
	err := pool(n, 16, func(i int) (err error) {
		cookies[i], err = l.login(fmt.Sprintf("b%d", i))
		return err
	})
	if err != nil {
		return nil, err
	}
	c := &capacity{members: n, step: -1, hist: &histogram{}, allHist: &histogram{}}
	var pace *ticker
	if cfg.PaceMs > 0 {
		pace = newTicker(time.Duration(cfg.PaceMs * float64(time.Millisecond)))
	}
	sockets := make([]*websocket.Conn, n)
	err = pool(n, 64, func(i int) error {
		// Probes are spread evenly over the join order, which is the order
		// the servers send in, so the late end of a fan-out is sampled too.
		probe := i%probeEvery == 0
		paceOf := pace
		if probe {
			paceOf = nil
		}
		conn, err := l.connect("capacity", cookies[i], paceOf)
		if err != nil {
			return err
		}
		sockets[i] = conn
		go c.readLoop(l, i, probe, conn)
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.quiet(300, 20_000)

	runStep := func(rate, ms float64) capacityStep {
		total := max(1, int(math.Round(rate*ms/1000)))
		c.mu.Lock()
		c.step++
		step := c.step
		c.capacityOf = total
		c.seen = make([]uint32, (n*total+31)/32)
		c.sent, c.delivered, c.duplicated, c.frames = 0, 0, 0, 0
		c.hist, c.allHist = &histogram{}, &histogram{}
		c.mu.Unlock()
		loadMeter, serverMeter := l.meters()
		t0 := time.Now()
		sent := 0
		for sent < total {
			// Open loop: send what the schedule says is due, whatever came back.
			due := min(total, int(float64(time.Since(t0).Microseconds())*rate/1e6)+1)
			for ; sent < due; sent++ {
				frame := messageFrame(formatTag(sent%n, step, sent, nowUs()))
				c.mu.Lock()
				c.sent = sent + 1 // before the write: the echo may come back first
				c.mu.Unlock()
				if err := sockets[sent%n].WriteMessage(websocket.TextMessage, frame); err != nil {
					l.error(fmt.Sprintf("send %d: %v", sent, err))
				}
			}
			time.Sleep(time.Millisecond)
		}
		publish := time.Since(t0).Seconds()
		loadCpu, serverCpu := loadMeter.share(), serverMeter.share()
		expected := sent * n
		delivered := func() int {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.delivered
		}
		// Loss is what never comes while the server still makes progress; a
		// backlog that is draining is latency, already in the figures.
		drainCap := time.Now().Add(time.Duration(cfg.MaxDrainMs) * time.Millisecond)
		lastCount, lastAt := delivered(), time.Now()
		for delivered() < expected {
			time.Sleep(10 * time.Millisecond)
			now := time.Now()
			if got := delivered(); got != lastCount {
				lastCount, lastAt = got, now
			} else if now.Sub(lastAt).Seconds()*1000 > cfg.DrainMs {
				break
			}
			if now.After(drainCap) {
				break
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		s := capacityStep{
			Rate:       rate,
			Sent:       sent,
			SentRate:   float64(sent) / publish,
			Expected:   expected,
			Delivered:  c.delivered,
			Lost:       expected - c.delivered,
			Duplicated: c.duplicated,
			P50Ms:      float64(c.hist.quantileUs(0.5)) / 1000,
			P99Ms:      float64(c.hist.quantileUs(0.99)) / 1000,
			MaxMs:      float64(c.hist.maxUs) / 1000,
			AllP99Ms:   float64(c.allHist.quantileUs(0.99)) / 1000,
			LoadCpu:    loadCpu,
			ServerCpu:  serverCpu,
		}
		if c.frames > 0 {
			s.EventsPerFrame = float64(c.delivered) / float64(c.frames)
		}
		s.Pass = s.P99Ms < cfg.P99LimitMs && s.Lost == 0 && s.Duplicated == 0
		return s
	}

	if cfg.WarmupMs > 0 {
		runStep(cfg.StartRate, cfg.WarmupMs)
		l.quiet(100, 2000)
	}
	result := &capacityResult{Kind: "capacity", Members: n, Steps: []capacityStep{}}
	for rate := cfg.StartRate; rate <= cfg.MaxRate; rate *= 2 {
		s := runStep(rate, cfg.StepMs)
		result.Steps = append(result.Steps, s)
		fmt.Fprintf(os.Stderr, "  %s %g/s: p50 %.2f p99 %.2f ms, %d/%d, load %s server %s (go)\n",
			l.cfg.Target, rate, s.P50Ms, s.P99Ms, s.Delivered, s.Expected, pct(s.LoadCpu), pct(s.ServerCpu))
		if !s.Pass {
			break
		}
		// Let the previous step's tail clear so it doesn't count against the next.
		l.quiet(100, 2000)
	}
	for _, s := range result.Steps {
		if s.LoadCpu > 0.9 {
			result.LoadLimited = true
		}
		if !s.Pass {
			break
		}
		result.Capacity = s.Rate
	}
	for _, s := range result.Steps {
		result.Lost += s.Lost
		result.Duplicated += s.Duplicated
		result.LoadCpu = math.Max(result.LoadCpu, s.LoadCpu)
		result.ServerCpu = math.Max(result.ServerCpu, s.ServerCpu)
	}
	c.mu.Lock()
	stray := c.stray
	c.mu.Unlock()
	if stray > 0 {
		l.error(fmt.Sprintf("%d deliveries after their step ended (late or duplicate)", stray))
	}
	l.mu.Lock()
	result.Errors = append([]string{}, l.errors...)
	l.mu.Unlock()
	return result, nil
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
