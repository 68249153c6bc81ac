"""devproxy logs: read Cloud Logging or files and diagnose failures.

    model       LogEntry, the one shape every source is normalised into
    source      files / stdin: gcloud JSON array, JSON lines, plain text (format detected)
    cloud       Cloud Logging adapter (google-cloud-logging over REST), read and poll
    query       the Cloud Run filter, --since, project resolution (pure)
    signatures  the failure-signature catalog, as data
    stacks      signatures from the format strings of tailscale, websockets, aiohttp, Cloud Run
    catalog     both catalogs joined
    unknown     lines no signature explains, grouped by masked template
    service     what a Cloud Run service's own settings get wrong (pure) and reading it
    match       entry -> signature (compiled once, prefiltered by literals)
    correlate   hits -> ranked findings: rules across layers and time, causes over symptoms
    follow      tailing and incremental diagnosis
    render      rich report, timeline, JSON
"""
