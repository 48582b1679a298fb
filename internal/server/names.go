package server

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// serverName is what the server is called: the names in its certificate
// and the base URL it prints, which is also the OAuth issuer unless one is
// configured (RFC 8414 §3.3: a client that found the metadata at a base
// URL insists that the issuer be that URL).
type serverName struct {
	ips []net.IP // IP address SANs: the addresses it listens on
	dns []string // DNS SANs: localhost, and the configured issuer's host
	url string   // https://host:port, host the listen address
	alt []string // every other https://name:port of the names above
}

// serverNames names the server that listens on addr with the configured
// OAuth issuer (empty for none). The certificate names the IP address it
// listens on (every address of the host for an unspecified one, such as
// 0.0.0.0), localhost, and the issuer's host. The base URL is the listen
// address, or https://127.0.0.1:port for an unspecified one.
func serverNames(addr *net.TCPAddr, issuer string) (serverName, error) {
	port := strconv.Itoa(addr.Port)
	n := serverName{dns: []string{"localhost"}}
	if len(addr.IP) == 0 || addr.IP.IsUnspecified() {
		n.ips = hostIPs()
		n.url = "https://" + net.JoinHostPort("127.0.0.1", port)
	} else {
		n.ips = []net.IP{normalIP(addr.IP)}
		n.url = "https://" + net.JoinHostPort(addr.IP.String(), port)
	}
	if issuer != "" {
		u, err := url.Parse(issuer)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return n, fmt.Errorf("token service issuer %q: want an https URL without query or fragment (RFC 8414)", issuer)
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			if !slices.ContainsFunc(n.ips, ip.Equal) {
				n.ips = append(n.ips, normalIP(ip))
			}
		} else if h := strings.ToLower(u.Hostname()); !slices.Contains(n.dns, h) {
			n.dns = append(n.dns, h)
		}
	}
	for _, ip := range n.ips {
		if u := "https://" + net.JoinHostPort(ip.String(), port); u != n.url {
			n.alt = append(n.alt, u)
		}
	}
	for _, h := range n.dns {
		n.alt = append(n.alt, "https://"+net.JoinHostPort(h, port))
	}
	return n, nil
}

// hostIPs returns the unicast addresses of this host's interfaces, and the
// loopback addresses whatever the interfaces say. Link-local addresses,
// which need a zone, are left out.
func hostIPs() []net.IP {
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	addrs, _ := net.InterfaceAddrs() // without them, loopback is enough
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() || ipn.IP.IsMulticast() || ipn.IP.IsUnspecified() {
			continue
		}
		if ip := normalIP(ipn.IP); !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	return ips
}

// normalIP returns ip in 4 bytes if it is an IPv4 address.
func normalIP(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// addHost adds host (a name or an IP address) to the names the server's
// certificate carries, without making it an alternate base URL of the
// token service.
func (n *serverName) addHost(host string) {
	if ip := net.ParseIP(host); ip != nil {
		if !slices.ContainsFunc(n.ips, ip.Equal) {
			n.ips = append(n.ips, normalIP(ip))
		}
		return
	}
	if h := strings.ToLower(host); h != "" && !slices.Contains(n.dns, h) {
		n.dns = append(n.dns, h)
	}
}
