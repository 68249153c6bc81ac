"""`python -m devproxy` runs the CLI."""

from devproxy.cli import main

main()
