// Command control runs a whole test tailnet's servers on one address: Tailscale's own test
// control server (tstest/integration/testcontrol), a DERP relay (derp/derpserver, TLS with a
// self-signed certificate the DERP map marks InsecureForTests) and a STUN server (net/stun).
//
// It prints one JSON line on stdout once every listener is open ({"control_url": ..., ...}) and
// serves GET /_test/nodes (every node the control server knows, with "connected": whether the
// node holds a streaming map poll right now) beside the control protocol. It exits when stdin
// closes, so a test that dies cannot leave it behind.
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"

	"tailscale.com/derp/derpserver"
	"tailscale.com/net/netaddr"
	"tailscale.com/net/stun"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"
)

// streams counts each node's open streaming map polls: a node logged out (or dead) holds none.
type streams struct {
	mu    sync.Mutex
	count map[key.NodePublic]int
}

func (s *streams) hold(req *tailcfg.MapRequest) func() {
	if !req.Stream {
		return nil
	}
	s.mu.Lock()
	s.count[req.NodeKey]++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.count[req.NodeKey]--
		s.mu.Unlock()
	}
}

func (s *streams) connected(k key.NodePublic) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[k] > 0
}

type nodeView struct {
	Name      string   `json:"name"`
	Hostname  string   `json:"hostname"`
	Addresses []string `json:"addresses"`
	NodeKey   string   `json:"node_key"`
	Connected bool     `json:"connected"`
}

func serveSTUN(pc *net.UDPConn) {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pkt := buf[:n]
		if !stun.Is(pkt) {
			continue
		}
		txid, err := stun.ParseBindingRequest(pkt)
		if err != nil {
			continue
		}
		src = netaddr.Unmap(src)
		pc.WriteToUDPAddrPort(stun.Response(txid, src), src)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1", "IP address every server listens on")
	authKey := flag.String("require-authkey", "", "the only auth key the control server accepts (empty: any)")
	magicDNS := flag.String("magicdns-domain", "tail.test", "MagicDNS domain of the tailnet")
	verbose := flag.Bool("verbose", false, "log control protocol details")
	flag.Parse()

	ip, err := netip.ParseAddr(*addr)
	if err != nil {
		log.Fatalf("-addr: %v", err)
	}
	logf := logger.Logf(log.Printf)
	if !*verbose {
		logf = logger.Discard
	}

	derp := derpserver.New(key.NewNode(), logf)
	derpLn, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		log.Fatalf("DERP listener: %v", err)
	}
	derpSrv := httptest.NewUnstartedServer(derpserver.AddWebSocketSupport(derp, derpserver.Handler(derp)))
	derpSrv.Listener.Close()
	derpSrv.Listener = derpLn
	derpSrv.Config.ErrorLog = logger.StdLogger(logf)
	// DERP upgrades an HTTP/1.1 connection; HTTP/2 over TLS would break it.
	derpSrv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	derpSrv.StartTLS()

	stunConn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		log.Fatalf("STUN listener: %v", err)
	}
	go serveSTUN(stunConn)
	stunPort := stunConn.LocalAddr().(*net.UDPAddr).Port
	derpPort := derpLn.Addr().(*net.TCPAddr).Port

	ipv4, ipv6 := ip.String(), "none"
	if ip.Is6() {
		ipv4, ipv6 = "none", ip.String()
	}
	derpMap := &tailcfg.DERPMap{Regions: map[int]*tailcfg.DERPRegion{
		1: {RegionID: 1, RegionCode: "test", RegionName: "Test", Nodes: []*tailcfg.DERPNode{{
			Name: "t1", RegionID: 1, HostName: ip.String(), IPv4: ipv4, IPv6: ipv6,
			STUNPort: stunPort, DERPPort: derpPort, InsecureForTests: true, STUNTestIP: ip.String(),
		}}},
	}}

	held := &streams{count: map[key.NodePublic]int{}}
	ctlLn, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		log.Fatalf("control listener: %v", err)
	}
	baseURL := "http://" + ctlLn.Addr().String()
	control := &testcontrol.Server{
		Logf:             logf,
		DERPMap:          derpMap,
		RequireAuthKey:   *authKey,
		MagicDNSDomain:   *magicDNS,
		DNSConfig:        &tailcfg.DNSConfig{Proxied: true, Domains: []string{*magicDNS}},
		AllNodesSameUser: true,
		AllOnline:        true,
		Verbose:          *verbose,
		ExplicitBaseURL:  baseURL,
		HoldMapRequest:   held.hold,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_test/nodes", func(w http.ResponseWriter, r *http.Request) {
		nodes := []nodeView{}
		for _, n := range control.AllNodes() {
			v := nodeView{Name: n.Name, Hostname: n.Hostinfo.Hostname(), NodeKey: n.Key.String(), Connected: held.connected(n.Key)}
			for _, a := range n.Addresses {
				v.Addresses = append(v.Addresses, a.Addr().String())
			}
			nodes = append(nodes, v)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(nodes)
	})
	mux.Handle("/", control)
	go func() {
		if err := http.Serve(ctlLn, mux); err != nil {
			log.Fatalf("control server: %v", err)
		}
	}()

	ready, _ := json.Marshal(map[string]any{
		"control_url": baseURL,
		"derp":        derpLn.Addr().String(),
		"stun":        stunConn.LocalAddr().String(),
	})
	fmt.Println(string(ready))
	// The parent holds our stdin: when it goes away, so do we.
	io.Copy(io.Discard, os.Stdin)
}
