"""Catalog rows for Cloud Run's own failure messages, from its documentation and the reports that quote them.

No run on this machine can produce these (no Google Cloud here): each row cites the documentation page
that describes the failure and, where its page gives none, a public report quoting the exact text.
The older Cloud Run rows (port not listening, memory, startup probe, exec format, no instance, the
request timeout) live in `signatures` and `stacks`.
"""

from __future__ import annotations

from devproxy.logs.signatures import Signature, signature

_DOCS = "cloud.google.com/run/docs"

SIGNATURES: tuple[Signature, ...] = (
    signature(
        "cr-image-not-found", "cloudrun", "critical", "root",
        "Cloud Run could not find the container image",
        "The revision names an image (or tag) that does not exist in the registry, so no instance can start: "
        "the push failed or went to another project or region, or the tag was deleted.",
        "Check the image exists (gcloud artifacts docker images list REPOSITORY); let `devproxy deploy` build "
        "and push it, or deploy an image that exists.",
        f"google-github-actions/deploy-cloudrun#465 (Revision '...' is not ready and cannot serve traffic. Image "
        f"'...' not found.); GoogleCloudPlatform/cloud-run-mcp#25; {_DOCS}/troubleshooting; Condition reason "
        "CONTAINER_MISSING (Cloud Run Admin API v2)",
        r"Image '[^']+' not found",
    ),
    signature(
        "cr-image-permission", "cloudrun", "critical", "root",
        "Cloud Run may not read the container image",
        "Cloud Run's service agent lacks read access to the registry holding the image (an image in another "
        "project, or a repository with restricted access).",
        "Grant roles/artifactregistry.reader on the repository to the Cloud Run Service Agent "
        "(service-PROJECT_NUMBER@serverless-robot-prod.iam.gserviceaccount.com), or push the image into the "
        "service's own project.",
        "cloud.google.com/artifact-registry/docs/integrate-cloud-run (images in another project need the Artifact "
        "Registry Reader role for the Cloud Run Service Agent); Condition reason CONTAINER_PERMISSION_DENIED",
        r"must have permission to read the image",
    ),
    signature(
        "cr-revision-not-ready", "cloudrun", "error", "symptom",
        "The new revision is not ready and serves no traffic",
        "Cloud Run created the revision but it never became ready; the rest of the same message, or the "
        "revision's own logs, say why (image, port, probe, secret).",
        "Act on the reason next to it (the findings above); traffic stays on the last ready revision until then.",
        "GoogleCloudPlatform/genai-for-marketing#155; google-github-actions/deploy-cloudrun#465; "
        f"{_DOCS}/troubleshooting",
        r"Revision '[^']+' is not ready and cannot serve traffic",
        # the same message naming its reason counts as that reason's row
        exclude=(r"Image '[^']+' not found", r"failed to start and (?:then )?listen on the port"),
    ),
    signature(
        "cr-quota", "cloudrun", "critical", "root",
        "The deployment asks for more than the project's Cloud Run quota in this region",
        "The revision's CPU or memory times its maximum instances exceeds the project's regional allocation "
        "quota, so Cloud Run refused the deployment.",
        "Lower --max-instances, --cpu or --memory (devproxy needs 1 CPU, 512 MiB and 1 instance), or ask for more "
        "quota (cloud.google.com/run/quotas).",
        "googlecodelabs/feedback#1856 ('Quota violated: CpuAllocPerProjectRegion requested: ... allowed: ...'); "
        "firebase/firebase-tools#5692 ('maxScale may not exceed'); cloud.google.com/run/quotas",
        r"Quota violated:",
        r"Invalid value specified for (?:cpu|memory)\. For the specified value, maxScale may not exceed",
        r"Max instances must be set to \d+ or fewer to set the requested total",
    ),
    signature(
        "cr-h2c-mismatch", "cloudrun", "critical", "root",
        "Cloud Run speaks HTTP/2 (h2c) to a container that speaks HTTP/1",
        "End-to-end HTTP/2 is on for the service (its port is named h2c), so Cloud Run's front end opens HTTP/2 "
        "cleartext connections to the container; devproxy serves HTTP/1.1 and WebSockets, and the front end "
        "resets each request with a protocol error (502).",
        "Turn end-to-end HTTP/2 off: name the port http1 (`gcloud run services update SERVICE --no-use-http2`; "
        "devproxy deploy does), then redeploy.",
        f"{_DOCS}/configuring/http2 (the container must handle h2c); "
        "https://openillumi.com/en/en-fix-cloud-run-protocol-error-http2 ('reset reason: protocol error' with "
        "'Use HTTP/2 end-to-end' on); field-notes §2.5 (ports name must stay http1)",
        r"upstream connect error or disconnect/reset before headers\. (?:retried and the latest )?reset reason: "
        r"protocol error",
    ),
    signature(
        "cr-upstream-reset", "cloudrun", "error", "symptom",
        "Cloud Run's front end lost the connection to the instance",
        "The connection to the container failed or was closed before it answered (the instance crashed, was "
        "stopped, or closed the connection); the browser gets a 502 or 503.",
        "Read the container's entries at the same time for why it stopped answering.",
        f"{_DOCS}/troubleshooting (HTTP 502/503 with 'upstream connect error'); "
        "https://openillumi.com/en/en-fix-cloud-run-protocol-error-http2",
        r"upstream connect error or disconnect/reset before headers\. (?:retried and the latest )?reset reason: "
        r"(?:connection failure|connection termination|remote connection failure|remote reset)",
    ),
    signature(
        "cr-upstream-request-timeout", "cloudrun", "error", "root",
        "Cloud Run answered 504: the request outlived the service's request timeout",
        "The front end ended the request at the service's request timeout (default 300 s) and answered "
        "'upstream request timeout'; for devproxy that is a WebSocket or a long download cut short.",
        "Set the request timeout to 3600 s (devproxy deploy does) and let clients reconnect.",
        f"{_DOCS}/configuring/request-timeout (a response not returned in time ends the request with 504); "
        "ruvnet/RuVector#305 ('504 upstream request timeouts' at the Cloud Run timeout)",
        r"^upstream request timeout$",
    ),
    signature(
        "cr-liveness-probe", "cloudrun", "error", "root",
        "Cloud Run's liveness probe failed and the instance was restarted",
        "The liveness probe (HTTP or TCP on the container) failed its threshold, so Cloud Run shut the instance "
        "down and started another; open WebSockets drop.",
        "Point a liveness probe at /_devproxy/health (cheap, independent of the tailnet) or remove it; a probe "
        "that depends on the dev box restarts healthy instances.",
        f"{_DOCS}/configuring/healthchecks (liveness probes restart the container after failureThreshold)",
        r"LIVENESS (?:TCP|HTTP|GRPC) probe failed \d+ times? consecutively",
    ),
)
