package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"forum/forum"
)

// Config is everything the forum is configured with, from flags with
// environment fallbacks.
type Config struct {
	Addr          string
	Data          string
	MongoURI      string
	MongoDB       string
	SessionKey    string
	History       time.Duration
	Heartbeat     time.Duration
	StatsInterval time.Duration
	MaxStreams    int
	HistoryEvents int
	HistoryBytes  int
	LogFormat     string
	TLSCert       string
	TLSKey        string
	MetricsAddr   string
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies    []netip.Prefix
	MaxUserStreams    int
	MaxAddressStreams int
	// PasswordCost is the bcrypt cost of new password hashes.
	PasswordCost int
}

// parseConfig reads flags from args, falling back to the environment given
// by getenv, and validates the result.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("forum", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	if err := refuseAdmins(args, getenv); err != nil {
		return c, err
	}
	var history, heartbeat, statsInterval, maxStreams, historyEvents, historyBytes string
	fs.StringVar(&c.Addr, "addr", env("FORUM_ADDR", "localhost:8080"), "listen address (FORUM_ADDR)")
	fs.StringVar(&c.Data, "data", env("FORUM_DATA", filepath.Join("data", "forum.db")), "embedded data file (FORUM_DATA)")
	fs.StringVar(&c.MongoURI, "mongodb-uri", env("MONGODB_URI", ""), "MongoDB replica set to use instead of the embedded store (MONGODB_URI)")
	fs.StringVar(&c.MongoDB, "mongodb-db", env("MONGODB_DB", "forum"), "MongoDB database name (MONGODB_DB)")
	fs.StringVar(&c.SessionKey, "session-key", env("FORUM_SESSION_KEY", ""), "secret that signs session cookies; generated into the data folder when empty (FORUM_SESSION_KEY)")
	fs.StringVar(&history, "history", env("FORUM_HISTORY", "15m"), "how long live events stay resumable (FORUM_HISTORY)")
	fs.StringVar(&historyEvents, "history-events", env("FORUM_HISTORY_EVENTS", "50000"), "most live events kept resumable (FORUM_HISTORY_EVENTS)")
	fs.StringVar(&historyBytes, "history-bytes", env("FORUM_HISTORY_BYTES", "64MiB"), "most memory the resumable events take, in bytes or with KiB, MiB or GiB (FORUM_HISTORY_BYTES)")
	fs.StringVar(&heartbeat, "heartbeat", env("FORUM_HEARTBEAT", "15s"), "interval of stream heartbeats (FORUM_HEARTBEAT)")
	fs.StringVar(&statsInterval, "stats-interval", env("FORUM_STATS_INTERVAL", "5s"), "interval of live admin statistics (FORUM_STATS_INTERVAL)")
	fs.StringVar(&maxStreams, "max-streams", env("FORUM_MAX_STREAMS", "10000"), "most open event streams (FORUM_MAX_STREAMS)")
	fs.StringVar(&c.LogFormat, "log-format", env("FORUM_LOG_FORMAT", "text"), "log format: text or json (FORUM_LOG_FORMAT)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("FORUM_TLS_CERT", ""), "TLS certificate file: serve HTTPS and HTTP/2 (FORUM_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", env("FORUM_TLS_KEY", ""), "TLS private key file (FORUM_TLS_KEY)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("FORUM_METRICS_ADDR", ""), "serve /metrics on this address of its own instead of the listen address (FORUM_METRICS_ADDR)")
	var trustedProxies, maxUserStreams, maxAddressStreams, passwordCost string
	fs.StringVar(&trustedProxies, "trusted-proxies", env("FORUM_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (FORUM_TRUSTED_PROXIES)")
	fs.StringVar(&maxUserStreams, "max-user-streams", env("FORUM_MAX_USER_STREAMS", "8"), "most open event streams per signed-in user (FORUM_MAX_USER_STREAMS)")
	fs.StringVar(&maxAddressStreams, "max-address-streams", env("FORUM_MAX_ADDRESS_STREAMS", "64"), "most open event streams per client address (FORUM_MAX_ADDRESS_STREAMS)")
	fs.StringVar(&passwordCost, "password-cost", env("FORUM_PASSWORD_COST", strconv.Itoa(forum.DefaultPasswordCost)), "bcrypt cost of new password hashes, 4 to 31 (FORUM_PASSWORD_COST)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	durations := []struct {
		name string
		src  string
		dst  *time.Duration
	}{
		{"FORUM_HISTORY", history, &c.History},
		{"FORUM_HEARTBEAT", heartbeat, &c.Heartbeat},
		{"FORUM_STATS_INTERVAL", statsInterval, &c.StatsInterval},
	}
	for _, d := range durations {
		if *d.dst, err = time.ParseDuration(d.src); err != nil || *d.dst <= 0 {
			return c, fmt.Errorf("%s: %q is not a positive duration such as 1s or 15m", d.name, d.src)
		}
	}
	counts := []struct {
		name string
		src  string
		dst  *int
	}{
		{"FORUM_MAX_STREAMS", maxStreams, &c.MaxStreams},
		{"FORUM_MAX_USER_STREAMS", maxUserStreams, &c.MaxUserStreams},
		{"FORUM_MAX_ADDRESS_STREAMS", maxAddressStreams, &c.MaxAddressStreams},
		{"FORUM_HISTORY_EVENTS", historyEvents, &c.HistoryEvents},
	}
	for _, n := range counts {
		if *n.dst, err = strconv.Atoi(n.src); err != nil || *n.dst < 1 {
			return c, fmt.Errorf("%s: %q is not a positive whole number", n.name, n.src)
		}
	}
	if c.PasswordCost, err = strconv.Atoi(passwordCost); err != nil || c.PasswordCost < bcrypt.MinCost || c.PasswordCost > bcrypt.MaxCost {
		return c, fmt.Errorf("FORUM_PASSWORD_COST: %q is not a bcrypt cost from %d to %d", passwordCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if c.TrustedProxies, err = parsePrefixes(trustedProxies); err != nil {
		return c, fmt.Errorf("FORUM_TRUSTED_PROXIES: %v", err)
	}
	if c.HistoryBytes, err = parseBytes(historyBytes); err != nil {
		return c, fmt.Errorf("FORUM_HISTORY_BYTES: %q is not a size such as 65536, 512KiB or 64MiB", historyBytes)
	}
	if c.Addr == "" {
		return c, errors.New("FORUM_ADDR: the listen address must not be empty")
	}
	// Port 0 picks a free port for each, so only a fixed port can clash.
	if _, port, _ := net.SplitHostPort(c.Addr); c.MetricsAddr == c.Addr && port != "0" {
		return c, errors.New("FORUM_METRICS_ADDR: use another address than FORUM_ADDR, or none to serve /metrics there")
	}
	if c.MongoURI == "" && c.Data == "" {
		return c, errors.New("FORUM_DATA: the data file path must not be empty")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("FORUM_LOG_FORMAT: %q is neither text nor json", c.LogFormat)
	}
	if c.SessionKey != "" && len(c.SessionKey) < 16 {
		return c, errors.New("FORUM_SESSION_KEY: use at least 16 characters")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, errors.New("FORUM_TLS_CERT and FORUM_TLS_KEY: set both or neither")
	}
	if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			return c, fmt.Errorf("FORUM_TLS_CERT and FORUM_TLS_KEY: %v", err)
		}
	}
	return c, nil
}

// parseBytes reads a positive size in bytes, with an optional KiB, MiB or
// GiB unit.
func parseBytes(s string) (int, error) {
	unit := 1
	for suffix, n := range map[string]int{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, unit = v, n
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > math.MaxInt/unit {
		return 0, errors.New("not a size")
	}
	return n * unit, nil
}

// parsePrefixes reads comma-separated addresses and CIDRs; an address is
// the prefix of itself alone.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or CIDR such as 10.0.0.1 or 172.16.0.0/12", v)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}
