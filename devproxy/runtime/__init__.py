"""devproxy runtime: the in-container proxy, tailscaled supervision and access control."""
