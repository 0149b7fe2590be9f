package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Report is what a load run measured. Server figures are null without -pid.
type Report struct {
	Subscribers int     `json:"subscribers"`
	Connected   int     `json:"connected"` // open when publishing began
	Failed      int     `json:"failed"`    // never connected, or closed before publishing began
	Dropped     int     `json:"dropped"`   // connected, then ended by the server
	ConnectS    float64 `json:"connect_s"`

	Posts      int `json:"posts"`
	Published  int `json:"published"`
	Expected   int `json:"expected"`
	Delivered  int `json:"delivered"`
	Lost       int `json:"lost"`
	Duplicates int `json:"duplicates"`
	Incomplete int `json:"incomplete"` // connected subscribers that missed a post
	Mismatched int `json:"mismatched"` // posts delivered with an id other than the API's
	Malformed  int `json:"malformed"`  // post events whose data is not a post
	Resets     int `json:"resets"`

	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	PublishP50Ms float64 `json:"publish_p50_ms"`
	PublishP99Ms float64 `json:"publish_p99_ms"`

	ServerRSSBeforeKB      *int64   `json:"server_rss_before_kb"`
	ServerRSSAfterKB       *int64   `json:"server_rss_after_kb"`
	ServerRSSPerStreamKB   *float64 `json:"server_rss_per_stream_kb"`
	ServerRSSPeakKB        *int64   `json:"server_rss_peak_kb"` // while publishing and delivering
	ServerCPUS             *float64 `json:"server_cpu_s"`       // while publishing and delivering
	ServerCPUPerDeliveryUs *float64 `json:"server_cpu_per_delivery_us"`
	ClientCPUS             float64  `json:"client_cpu_s"`

	failures   map[string]int // why subscribers failed or dropped
	publishErr map[string]int // why posts were not published
}

// newReport tallies the subscribers and publish results of a finished run
// whose publishing began at publishStart.
func newReport(cfg config, subs []*subscriber, results []publishResult, sh *shared, publishStart time.Duration) *Report {
	r := &Report{Subscribers: cfg.subscribers, Posts: cfg.posts, failures: map[string]int{}, publishErr: map[string]int{}}
	mask := make([]uint64, (len(results)+63)/64)
	var took []time.Duration
	for i, res := range results {
		if res.err != nil {
			r.publishErr[res.err.Error()]++
			continue
		}
		r.Published++
		mask[i/64] |= 1 << (i % 64)
		took = append(took, res.took)
		if first := sh.ids[i].Load(); sh.idChanged[i].Load() || (first != nil && *first != res.id) {
			r.Mismatched++
		}
	}
	var latencies []time.Duration
	for _, s := range subs {
		switch {
		case !s.connected:
			r.failures["connect: "+s.err.Error()]++
			continue
		case s.endedAt > 0 && s.endedAt < publishStart:
			r.failures["ended by the server before publishing (refused?): "+s.err.Error()]++
			continue
		case s.endedAt > 0:
			r.Dropped++
			r.failures["ended by the server while publishing: "+s.err.Error()]++
		}
		r.Connected++
		got := s.received(mask)
		r.Delivered += got
		if got < r.Published {
			r.Incomplete++
		}
		r.Duplicates += s.duplicates
		r.Malformed += s.malformed
		r.Resets += s.resets
		latencies = append(latencies, s.latencies...)
	}
	if n := cfg.subscribers - len(subs); n > 0 {
		r.failures["not started within the connect timeout"] += n
	}
	r.Failed = cfg.subscribers - r.Connected
	r.Expected = r.Published * r.Connected
	r.Lost = r.Expected - r.Delivered
	slices.Sort(latencies)
	r.P50Ms, r.P90Ms = ms(percentile(latencies, 50)), ms(percentile(latencies, 90))
	r.P99Ms, r.MaxMs = ms(percentile(latencies, 99)), ms(percentile(latencies, 100))
	slices.Sort(took)
	r.PublishP50Ms, r.PublishP99Ms = ms(percentile(took, 50)), ms(percentile(took, 99))
	return r
}

// setServer records the server's resident memory before and after the
// streams opened, its peak and the clock ticks it spent while publishing.
func (r *Report) setServer(rssBefore, rssAfter, rssPeak, ticks int64) {
	r.ServerRSSBeforeKB, r.ServerRSSAfterKB, r.ServerRSSPeakKB = &rssBefore, &rssAfter, &rssPeak
	if r.Connected > 0 {
		perStream := round3(float64(rssAfter-rssBefore) / float64(r.Connected))
		r.ServerRSSPerStreamKB = &perStream
	}
	cpu := round3(float64(ticks) / clockTicks)
	r.ServerCPUS = &cpu
	if r.Delivered > 0 {
		perDelivery := round3(float64(ticks) / clockTicks * 1e6 / float64(r.Delivered))
		r.ServerCPUPerDeliveryUs = &perDelivery
	}
}

// problems lists what went wrong, if anything.
func (r *Report) problems() []string {
	var p []string
	add := func(n int, what string) {
		if n > 0 {
			p = append(p, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Failed, "subscribers failed to connect")
	add(r.Dropped, "streams ended early")
	add(r.Posts-r.Published, "posts not published")
	add(r.Lost, "deliveries lost")
	add(r.Duplicates, "duplicate deliveries")
	add(r.Mismatched, "posts delivered with the wrong id")
	add(r.Malformed, "malformed post events")
	return p
}

// print writes the report as lines for people and then as one JSON line.
func (r *Report) print(w io.Writer) error {
	fmt.Fprintf(w, "connect: %d of %d subscribers connected in %.2fs; %d failed, %d dropped later\n",
		r.Connected, r.Subscribers, r.ConnectS, r.Failed, r.Dropped)
	printCounts(w, "  failure", r.failures)
	fmt.Fprintf(w, "publish: %d of %d posts; request p50 %.1fms p99 %.1fms\n",
		r.Published, r.Posts, r.PublishP50Ms, r.PublishP99Ms)
	printCounts(w, "  error", r.publishErr)
	fmt.Fprintf(w, "deliver: %d of %d; %d lost, %d duplicates, %d resets, %d subscribers incomplete\n",
		r.Delivered, r.Expected, r.Lost, r.Duplicates, r.Resets, r.Incomplete)
	fmt.Fprintf(w, "latency: p50 %.1fms p90 %.1fms p99 %.1fms max %.1fms\n", r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs)
	if r.ServerRSSBeforeKB != nil {
		fmt.Fprintf(w, "server: RSS %d kB before streams, %d kB with them: %s kB per stream; peak %d kB while publishing\n",
			*r.ServerRSSBeforeKB, *r.ServerRSSAfterKB, orNA(r.ServerRSSPerStreamKB), *r.ServerRSSPeakKB)
		fmt.Fprintf(w, "server: CPU %.2fs while publishing: %s µs per delivery\n", *r.ServerCPUS, orNA(r.ServerCPUPerDeliveryUs))
	}
	fmt.Fprintf(w, "client: CPU %.2fs\n", r.ClientCPUS)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printCounts writes the most frequent few of counts, one a line.
func printCounts(w io.Writer, label string, counts map[string]int) {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return counts[b] - counts[a] })
	for i, k := range keys {
		if i == 5 {
			fmt.Fprintf(w, "%s: %d other kinds\n", label, len(keys)-i)
			return
		}
		fmt.Fprintf(w, "%s: %d × %s\n", label, counts[k], k)
	}
}

func orNA(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64)
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times.
const clockTicks = 100

// probe reads a process's memory and CPU time from /proc; with pid 0 it
// reads nothing and returns zeros.
type probe struct{ pid int }

// rssKB returns the process's resident set size in kB.
func (p probe) rssKB() (int64, error) {
	if p.pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("server memory: no VmRSS in /proc/%d/status", p.pid)
}

// peakRSS samples the process's resident set size every 100ms until the
// returned function is called, which returns the largest sample in kB.
func (p probe) peakRSS() func() int64 {
	if p.pid == 0 {
		return func() int64 { return 0 }
	}
	stop, peak := make(chan struct{}), make(chan int64)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var kb int64
		for {
			if v, err := p.rssKB(); err == nil {
				kb = max(kb, v)
			}
			select {
			case <-tick.C:
			case <-stop:
				peak <- kb
				return
			}
		}
	}()
	return func() int64 {
		close(stop)
		return <-peak
	}
}

// cpuTicks returns the process's user and system time in clock ticks.
func (p probe) cpuTicks() (int64, error) {
	if p.pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	// Fields after the parenthesized command name start at field 3, state;
	// utime and stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU: short /proc/%d/stat", p.pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("server CPU: unreadable /proc/%d/stat", p.pid)
	}
	return utime + stime, nil
}

// ownCPU returns the user and system time this process has used.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
