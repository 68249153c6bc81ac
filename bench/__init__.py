"""devproxy's benchmark: the runtime proxy measured against direct and SOCKS-only paths on loopback."""
