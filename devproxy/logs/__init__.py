"""devproxy logs: read Cloud Logging or files and diagnose failures.

    model       LogEntry, the one shape every source is normalised into
    source      files / stdin: gcloud JSON array, JSON lines, plain text (format detected)
    cloud       Cloud Logging adapter (google-cloud-logging over REST), read and poll
    query       the Cloud Run filter, --since, project resolution (pure)
    signatures  the failure-signature catalog, as data
    match       entry -> signature (compiled once, prefiltered by literals)
    correlate   hits -> ranked findings: rules across layers and time, causes over symptoms
    follow      tailing and incremental diagnosis
    render      rich report, timeline, JSON
"""
