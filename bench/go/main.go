// Command benchgo is the benchmark's native helper: a SOCKS5 server (armon/go-socks5, close to
// tailscaled's copy loop) and an HTTP load generator that can reach its target through SOCKS5,
// which wrk cannot.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	socks5 "github.com/armon/go-socks5"
	"golang.org/x/net/proxy"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchgo socks|http [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "socks":
		serveSocks(os.Args[2:])
	case "http":
		load(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// serveSocks listens on a loopback port and prints "listening <addr>" once bound.
func serveSocks(args []string) {
	fs := flag.NewFlagSet("socks", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to bind")
	fs.Parse(args)
	server, err := socks5.New(&socks5.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", ln.Addr().String())
	os.Stdout.Sync()
	if err := server.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type result struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
}

// load runs c keep-alive connections, each issuing GETs back to back for d, like wrk.
func load(args []string) {
	fs := flag.NewFlagSet("http", flag.ExitOnError)
	url := fs.String("url", "", "URL to GET")
	socksAddr := fs.String("socks", "", "SOCKS5 server host:port (empty: direct)")
	conns := fs.Int("c", 8, "connections")
	dur := fs.Duration("d", 2*time.Second, "duration")
	fs.Parse(args)

	var dial func(network, addr string) (net.Conn, error)
	if *socksAddr != "" {
		d, err := proxy.SOCKS5("tcp", *socksAddr, nil, proxy.Direct)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dial = d.Dial
	} else {
		dial = net.Dial
	}
	var mu sync.Mutex
	var all []time.Duration
	errors := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*dur)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One transport per worker: exactly one keep-alive connection each, as wrk does.
			tr := &http.Transport{Dial: dial, MaxIdleConnsPerHost: 1, DisableCompression: true}
			client := &http.Client{Transport: tr}
			lat := make([]time.Duration, 0, 65536)
			errs := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Get(*url)
				if err != nil {
					errs++
					continue
				}
				io.Copy(io.Discard, bufio.NewReader(resp.Body))
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			tr.CloseIdleConnections()
			mu.Lock()
			all = append(all, lat...)
			errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{Requests: len(all), Errors: errors, Seconds: elapsed, RPS: float64(len(all)) / elapsed}
	if len(all) > 0 {
		r.P50us = float64(all[len(all)/2].Nanoseconds()) / 1000
		r.P99us = float64(all[len(all)*99/100].Nanoseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(r)
}
