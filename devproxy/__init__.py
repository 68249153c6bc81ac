"""devproxy: a public HTTPS URL on Google Cloud Run for a dev server on your tailnet."""

__version__ = "0.1.0"
