package web

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// httpsKey holds, in a request's context, whether a trusted proxy says the
// request came to it over HTTPS.
type httpsKey struct{}

// WithTrustedProxies makes the server believe the X-Forwarded-For and
// X-Forwarded-Proto headers of requests whose peer is in one of prefixes,
// such as the reverse proxy in front of it. Without it no peer is trusted,
// and the peer's address is the client's.
func WithTrustedProxies(prefixes []netip.Prefix) Option {
	return func(s *Server) {
		for _, p := range prefixes {
			s.proxies = append(s.proxies, p.Masked())
		}
	}
}

// proxies are the peers whose forwarding headers are believed.
type proxies []netip.Prefix

func (ps proxies) trust(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// withClient is the one place that decides who the client is: it sets the
// request's RemoteAddr to the client's address, in host:port form, and
// records whether the client came over HTTPS, believing forwarding headers
// only from trusted proxies. Everything keyed on a client (the sign-in
// limiter, logs, per-client stream caps, the cookie's Secure flag) reads
// them after it, so it runs outermost.
func (s *Server) withClient(next http.Handler) http.Handler {
	if len(s.proxies) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !s.proxies.trust(peer.Addr().Unmap()) {
			next.ServeHTTP(w, r)
			return
		}
		client := s.proxies.client(peer.Addr().Unmap(), r.Header.Values("X-Forwarded-For"))
		https := forwardedHTTPS(r.Header.Get("X-Forwarded-Proto"))
		r = r.WithContext(context.WithValue(r.Context(), httpsKey{}, https))
		if client != peer.Addr().Unmap() {
			r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		}
		next.ServeHTTP(w, r)
	})
}

// client returns the client's address behind peer, a trusted proxy, from
// the X-Forwarded-For values: the hops are read from the right, each
// appended by the proxy before it, and the first that is not a trusted
// proxy is the client. A malformed hop ends the walk, since nothing to its
// left can be believed: the last trusted hop is then the client.
func (ps proxies) client(peer netip.Addr, forwarded []string) netip.Addr {
	hops := strings.Split(strings.Join(forwarded, ","), ",")
	addr := peer
	for i := len(hops) - 1; i >= 0 && ps.trust(addr); i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, with a port or
// not.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// forwardedHTTPS reports whether an X-Forwarded-Proto value says https.
// Proxies that append give a list whose first entry is what the client
// used.
func forwardedHTTPS(proto string) bool {
	first, _, _ := strings.Cut(proto, ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

// isHTTPS reports whether the client came over HTTPS: to this server, or
// to a trusted proxy that said so.
func isHTTPS(r *http.Request) bool {
	https, _ := r.Context().Value(httpsKey{}).(bool)
	return r.TLS != nil || https
}

// clientHost returns the client's address without its port.
func clientHost(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return r.RemoteAddr
}
