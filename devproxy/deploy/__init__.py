"""devproxy deploy: desired state -> plan -> apply against Google Cloud."""
