// The Node peer: what a Node user writes for "HTTP and WebSocket to a dev server through SOCKS5":
// http-proxy in front, socks-proxy-agent (keep-alive, remote DNS) for the tunnel.
//   node peer.js --target http://127.0.0.1:8080 --socks 127.0.0.1:1055
"use strict";
const http = require("http");
const httpProxy = require("http-proxy");
const { SocksProxyAgent } = require("socks-proxy-agent");

const args = process.argv.slice(2);
const opt = (name) => args[args.indexOf(name) + 1];
const agent = new SocksProxyAgent(`socks5h://${opt("--socks")}`, { keepAlive: true });
const proxy = httpProxy.createProxyServer({ target: opt("--target"), agent, ws: true, xfwd: true });

proxy.on("error", (err, req, res) => {
  if (res && typeof res.writeHead === "function" && !res.headersSent) {
    res.writeHead(502, { "Content-Type": "text/plain" });
    res.end(`proxy error: ${err.message}\n`);
  } else if (res && typeof res.destroy === "function") {
    res.destroy();
  }
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.on("upgrade", (req, socket, head) => proxy.ws(req, socket, head));
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
