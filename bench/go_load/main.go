// The Go load process: a drop-in replacement of bench/load.ts for workload B
// (capacity) only. bench/run.ts runs it with BENCH_LOAD=go, pinned to CPU 1
// with GOMAXPROCS=1, so the load is one core like the Deno one, but one that
// does not saturate first: each socket is read by its own goroutine and
// frames are scanned for tags in place, never JSON-decoded.
//
// Usage: go_load '<LoadConfig JSON>'; progress goes to stderr, the
// CapacityResult JSON (plus "target") is the last line of stdout.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// loadConfig is LoadConfig of bench/load.ts, with a capacity workload.
type loadConfig struct {
	Target    string         `json:"target"`
	Hostname  string         `json:"hostname"`
	Port      int            `json:"port"`
	ServerPid int            `json:"serverPid"`
	Workload  capacityConfig `json:"workload"`
}

// capacityConfig is CapacityConfig of bench/load.ts.
type capacityConfig struct {
	Kind       string  `json:"kind"`
	Members    float64 `json:"members"`
	StartRate  float64 `json:"startRate"`
	MaxRate    float64 `json:"maxRate"`
	StepMs     float64 `json:"stepMs"`
	WarmupMs   float64 `json:"warmupMs"`
	DrainMs    float64 `json:"drainMs"`
	MaxDrainMs float64 `json:"maxDrainMs"`
	P99LimitMs float64 `json:"p99LimitMs"`
	ProbeEvery float64 `json:"probeEvery"`
	PaceMs     float64 `json:"paceMs"`
}

// capacityStep is CapacityStep of bench/load.ts, field for field.
type capacityStep struct {
	Rate           float64 `json:"rate"`
	Sent           int     `json:"sent"`
	SentRate       float64 `json:"sentRate"`
	Expected       int     `json:"expected"`
	Delivered      int     `json:"delivered"`
	Lost           int     `json:"lost"`
	Duplicated     int     `json:"duplicated"`
	P50Ms          float64 `json:"p50Ms"`
	P99Ms          float64 `json:"p99Ms"`
	MaxMs          float64 `json:"maxMs"`
	AllP99Ms       float64 `json:"allP99Ms"`
	EventsPerFrame float64 `json:"eventsPerFrame"`
	LoadCpu        float64 `json:"loadCpu"`
	ServerCpu      float64 `json:"serverCpu"`
	Pass           bool    `json:"pass"`
}

// capacityResult is CapacityResult of bench/load.ts plus the target.
type capacityResult struct {
	Kind        string         `json:"kind"`
	Members     int            `json:"members"`
	Steps       []capacityStep `json:"steps"`
	Capacity    float64        `json:"capacity"`
	LoadLimited bool           `json:"loadLimited"`
	Lost        int            `json:"lost"`
	Duplicated  int            `json:"duplicated"`
	LoadCpu     float64        `json:"loadCpu"`
	ServerCpu   float64        `json:"serverCpu"`
	Errors      []string       `json:"errors"`
	Target      string         `json:"target"`
}

const (
	maxErrors = 10
	// Reads smaller than this are followed by the pace, as in ws_client.ts.
	paceBelowBytes = 8192
	// Big enough that a busy socket's backlog comes in a few reads.
	readBufferBytes = 64 * 1024
)

// load is the state of one run: frames seen (for the quiet check) and errors.
type load struct {
	cfg        loadConfig
	base       string
	frames     atomic.Int64
	mu         sync.Mutex
	errors     []string
	errorCount int
}

// error records a problem once, with a count past the cap.
func (l *load) error(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errorCount++
	if len(l.errors) < maxErrors {
		l.errors = append(l.errors, text)
	} else {
		l.errors[maxErrors-1] = fmt.Sprintf("… and %d more", l.errorCount-maxErrors+1)
	}
}

// untagged looks into a frame without a tag: only (small) error frames matter.
func (l *load) untagged(frame []byte) {
	if len(frame) <= 4096 && strings.Contains(string(frame), `"type":"error"`) {
		text := string(frame)
		if len(text) > 200 {
			text = text[:200]
		}
		l.error(text)
	}
}

var httpClient = &http.Client{
	// The login answers 303 with the cookie; following it would lose that.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
	Timeout:       30 * time.Second,
}

// login posts the login form like a browser and returns the `session=...` cookie.
func (l *load) login(nickname string) (string, error) {
	req, err := http.NewRequest("POST", l.base+"/login",
		strings.NewReader("nickname="+url.QueryEscape(nickname)))
	if err != nil {
		return "", err
	}
	req.Header.Set("content-type", "application/x-www-form-urlencoded")
	// The server's CSRF check wants a same-origin form post.
	req.Header.Set("origin", l.base)
	res, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("login %s: %w", nickname, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 303 {
		return "", fmt.Errorf("login %s: HTTP %d", nickname, res.StatusCode)
	}
	for _, c := range res.Header.Values("Set-Cookie") {
		if pair := strings.SplitN(c, ";", 2)[0]; strings.HasPrefix(pair, "session=") {
			return pair, nil
		}
	}
	return "", fmt.Errorf("login %s: no session cookie", nickname)
}

// pool runs task(i) for i in [0, count), at most concurrency at once; the first error wins.
func pool(count, concurrency int, task func(i int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(concurrency, count); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < count && first.Load() == nil; i = int(next.Add(1) - 1) {
				if err := task(i); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// ticker is one timer shared by all paced sockets: each waits for its next tick.
type ticker struct {
	mu   sync.Mutex
	tick chan struct{}
}

func newTicker(every time.Duration) *ticker {
	t := &ticker{tick: make(chan struct{})}
	go func() {
		for range time.Tick(every) {
			t.mu.Lock()
			close(t.tick)
			t.tick = make(chan struct{})
			t.mu.Unlock()
		}
	}()
	return t
}

// wait blocks until the next tick.
func (t *ticker) wait() {
	t.mu.Lock()
	tick := t.tick
	t.mu.Unlock()
	<-tick
}

// pacedConn makes a socket wait for the pace after each small read, before
// the next one, as BenchSocket does: the kernel gathers several frames per
// read, at the price of timestamps up to one pace late.
//
// It also notes when each read returned: every frame parsed from a read
// arrived by then, so one clock read per read serves them all.
type pacedConn struct {
	net.Conn
	pace   *ticker // nil until the handshake is done, and for probes
	owed   bool
	readUs int64 // nowUs() when the last read returned
}

func (c *pacedConn) Read(p []byte) (int, error) {
	if c.owed {
		c.owed = false
		c.pace.wait()
	}
	n, err := c.Conn.Read(p)
	c.readUs = nowUs()
	c.owed = c.pace != nil && n < paceBelowBytes
	return n, err
}

// connect opens one socket to a room; pace, when set, spaces out its reads.
func (l *load) connect(room, cookie string, pace *ticker) (*websocket.Conn, error) {
	dialer := websocket.Dialer{
		ReadBufferSize:   readBufferBytes,
		WriteBufferSize:  1024,
		HandshakeTimeout: 30 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &pacedConn{Conn: conn}, nil
		},
	}
	u := fmt.Sprintf("ws://%s:%d/ws/%s", l.cfg.Hostname, l.cfg.Port, room)
	conn, _, err := dialer.Dial(u, http.Header{"Cookie": {cookie}})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", u, err)
	}
	conn.UnderlyingConn().(*pacedConn).pace = pace
	return conn, nil
}

// quiet waits until no frame has arrived for quietMs, or maxMs passed.
func (l *load) quiet(quietMs, maxMs int) {
	deadline := time.Now().Add(time.Duration(maxMs) * time.Millisecond)
	last := int64(-1)
	for time.Now().Before(deadline) {
		frames := l.frames.Load()
		if frames == last {
			return
		}
		last = frames
		time.Sleep(time.Duration(quietMs) * time.Millisecond)
	}
}

func (l *load) meters() (*cpuMeter, *cpuMeter) {
	return startMeter(os.Getpid(), false), startMeter(l.cfg.ServerPid, true)
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("Usage: go_load '<LoadConfig JSON>'"))
	}
	var cfg loadConfig
	if err := json.Unmarshal([]byte(os.Args[1]), &cfg); err != nil {
		fail(fmt.Errorf("Bad load config: %w", err))
	}
	if cfg.Workload.Kind != "capacity" {
		fail(fmt.Errorf("Workload %q is not run by the Go load: only \"capacity\" is", cfg.Workload.Kind))
	}
	// GO_LOAD_CPU_PROFILE=<file> writes a pprof CPU profile of the whole run.
	if path := os.Getenv("GO_LOAD_CPU_PROFILE"); path != "" {
		file, err := os.Create(path)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(file)
		defer pprof.StopCPUProfile()
	}
	l := &load{cfg: cfg, base: fmt.Sprintf("http://%s:%d", cfg.Hostname, cfg.Port)}
	result, err := runCapacity(l, cfg.Workload)
	if err != nil {
		fail(err)
	}
	result.Target = cfg.Target
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func pct(share float64) string { return fmt.Sprintf("%d%%", int(math.Round(share*100))) }
