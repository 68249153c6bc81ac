"""devproxy logs: read Cloud Logging or files and diagnose failures."""
