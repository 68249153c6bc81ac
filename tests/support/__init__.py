"""Shared test support: real third-party servers and small helpers the suites own."""
