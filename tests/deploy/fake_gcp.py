"""A local fake of just enough Google Cloud REST for deploy, recording every request.

Run v2 (services, operations, IAM), Secret Manager v1, IAM v1 service accounts, Artifact
Registry v1, Cloud Storage JSON API (buckets, multipart upload, ranged media download), Cloud
Build v1 (builds, with log lines written to the logs bucket), and the service's own
`/_devproxy/ready` (the fake service URL points back here). State persists across deploys.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.deploy.fake_domains import DomainsAndIap, GoogleError

PROJECT = "demo-proj"
NUMBER = "123456789012"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    status: int
    message: str
    details: list[dict[str, Any]]
    times: int


@dataclass
class Secret:
    resource: dict[str, Any]
    versions: list[bytes] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=lambda: {"etag": "ACAB"})
    #: version number (1-based) -> state, for versions that are not ENABLED.
    states: dict[int, str] = field(default_factory=dict)


class FakeGoogle(DomainsAndIap):
    """State and handlers; `url` is where every DEVPROXY_<API>_ENDPOINT points."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.injected: list[Injected] = []
        self.services: dict[str, dict[str, Any]] = {}
        self.service_policies: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.pending_polls: dict[str, int] = {}
        self.secrets: dict[str, Secret] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.repositories: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], bytes] = {}
        self.builds: dict[str, dict[str, Any]] = {}
        #: Artifact Registry tag name -> image digest, filled by successful builds.
        self.tags: dict[str, str] = {}
        self.ids = itertools.count(1)
        #: set to a message to make the next service operation fail like a bad revision.
        self.fail_revision: str | None = None
        #: set to a status detail to make builds fail.
        self.fail_build: str | None = None
        #: Run v1 domain mappings by domain; domains the caller has verified (others are refused).
        self.domain_mappings: dict[str, dict[str, Any]] = {}
        self.verified_domains: set[str] = {"example.com"}
        #: IAP policies by resource (projects/N/iap_web/cloud_run-R/services/S).
        self.iap_policies: dict[str, dict[str, Any]] = {}
        self.ready_status = 200
        self.url = ""
        #: APIs the project has on (Service Usage); a fresh fake project has every API deploy uses.
        self.enabled_apis: set[str] = {f"{api}.googleapis.com" for api in (
            "run", "secretmanager", "iam", "artifactregistry", "cloudbuild", "storage", "iap",
            "cloudresourcemanager", "logging", "serviceusage")}
        #: permissions the caller holds on the project (testIamPermissions); None: all of them.
        self.granted: set[str] | None = None

    # -- test helpers -------------------------------------------------------------------------
    def inject(self, method: str, path_regex: str, status: int, message: str,
               details: list[dict[str, Any]] | None = None, times: int = 1) -> None:
        """Answer the next `times` matching requests with a Google-style error."""
        self.injected.append(Injected(method, re.compile(path_regex), status, message, details or [], times))

    def bodies(self, method: str, path_regex: str) -> list[Any]:
        pattern = re.compile(path_regex)
        return [r.body for r in self.requests if r.method == method and pattern.search(r.path)]

    def secret_values(self, secret_id: str) -> list[str]:
        return [v.decode() for v in self.secrets[secret_id].versions]

    # -- dispatch -------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        path, query = unquote(split.path), parse_qs(split.query)
        parsed: Any = body
        if body and headers.get("Content-Type", "").startswith("application/json"):
            parsed = json.loads(body)
        with self.lock:
            if not path.startswith("/_devproxy/"):
                self.requests.append(Recorded(method, path, query, parsed))
            try:
                self._maybe_inject(method, path)
                for route_method, pattern, handler in self.routes():
                    if route_method == method:
                        found = re.fullmatch(pattern, path)
                        if found:
                            return handler(*found.groups(), query=query, body=parsed, headers=headers)
                raise GoogleError(404, f"fake has no route for {method} {path}")
            except GoogleError as exc:
                payload = {"error": {"code": exc.status, "message": exc.message,
                                     "status": STATUS.get(exc.status, "UNKNOWN"), "details": exc.details}}
                return exc.status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    def _maybe_inject(self, method: str, path: str) -> None:
        for rule in self.injected:
            if rule.times and rule.method == method and rule.pattern.search(path):
                rule.times -= 1
                raise GoogleError(rule.status, rule.message, rule.details)

    def routes(self) -> Iterator[tuple[str, str, Any]]:
        loc = r"projects/([^/]+)/locations/([^/]+)"
        yield "GET", rf"/v2/{loc}/services/([^/:]+)", self.get_service
        yield "GET", rf"/v2/{loc}/services", self.list_services
        yield "POST", rf"/v2/{loc}/services", self.create_service
        yield "PATCH", rf"/v2/{loc}/services/([^/:]+)", self.update_service
        yield "GET", rf"/v2/{loc}/services/([^/:]+):getIamPolicy", self.get_service_policy
        yield "POST", rf"/v2/{loc}/services/([^/:]+):setIamPolicy", self.set_service_policy
        yield "GET", rf"/v2/({loc}/operations/[^/]+)", self.get_operation
        yield "GET", r"/v1/projects/([^/]+)/secrets/([^/:]+)", self.get_secret
        yield "POST", r"/v1/projects/([^/]+)/secrets", self.create_secret
        yield "POST", r"/v1/projects/([^/]+)/secrets/([^/:]+):addVersion", self.add_version
        yield "GET", r"/v1/projects/([^/]+)/secrets/([^/:]+)/versions/latest:access", self.access_latest
        yield "GET", r"/v1/projects/([^/]+)/secrets/([^/:]+)/versions/([^/:]+)", self.get_version
        yield "GET", r"/v1/projects/([^/]+)/secrets/([^/:]+):getIamPolicy", self.get_secret_policy
        yield "POST", r"/v1/projects/([^/]+)/secrets/([^/:]+):setIamPolicy", self.set_secret_policy
        yield "GET", r"/v1/projects/([^/]+)/serviceAccounts/([^/]+)", self.get_account
        yield "POST", r"/v1/projects/([^/]+)/serviceAccounts", self.create_account
        yield "GET", rf"/v1/{loc}/repositories/([^/:]+)", self.get_repository
        yield "POST", rf"/v1/{loc}/repositories", self.create_repository
        yield "GET", rf"/v1/({loc}/repositories/[^/]+/packages/[^/]+/tags/[^/]+)", self.get_tag
        yield "GET", r"/storage/v1/b/([^/]+)", self.get_bucket
        yield "POST", r"/storage/v1/b", self.create_bucket
        yield "POST", r"/upload/storage/v1/b/([^/]+)/o", self.upload
        yield "GET", r"/download/storage/v1/b/([^/]+)/o/(.+)", self.download
        yield "GET", r"/storage/v1/b/([^/]+)/o/(.+)", self.download
        yield "POST", r"/v1/projects/([^/]+)/builds", self.create_build
        yield "GET", r"/v1/projects/([^/]+)/builds/([^/]+)", self.get_build
        yield "GET", r"/v3/projects/([^/]+)", self.get_project
        yield "GET", r"/_devproxy/ready", self.ready
        yield from self.domain_and_iap_routes()
        yield from self.removal_routes()
        yield from self.setup_routes()

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def json(data: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(data).encode()

    def operation(self, prefix: str, response: dict[str, Any] | None, type_url: str,
                  error: dict[str, Any] | None = None, polls: int = 0,
                  metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        name = f"{prefix}/operations/op-{next(self.ids)}"
        done: dict[str, Any] = {"name": name, "done": True}
        if error:
            done["error"] = error
        elif response is not None:
            done["response"] = {"@type": type_url, **response}
        if metadata:
            done["metadata"] = metadata
        self.operations[name] = done
        self.pending_polls[name] = polls
        return done if polls == 0 else {"name": name, "done": False, **({"metadata": metadata} if metadata else {})}

    # -- Cloud Run -------------------------------------------------------------------------------------
    def get_service(self, project: str, region: str, service: str, **_: Any) -> Any:
        name = f"projects/{project}/locations/{region}/services/{service}"
        if name not in self.services:
            raise GoogleError(404, f"Resource '{service}' of kind 'SERVICE' in region '{region}' "
                                   f"in project '{project}' does not exist.")
        return self.json(self.services[name])

    def list_services(self, project: str, region: str, **_: Any) -> Any:
        prefix = f"projects/{project}/locations/"
        found = [svc for name, svc in sorted(self.services.items())
                 if name.startswith(prefix) and (region == "-" or name.startswith(f"{prefix}{region}/"))]
        return self.json({"services": found} if found else {})

    def _store_service(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        old = self.services.get(name, {})
        generation = int(old.get("generation", 0)) + 1
        service = {**body, "name": name, "generation": str(generation), "uri": self.url,
                   "urls": [self.url],
                   "latestReadyRevision": f"{name}/revisions/{name.rsplit('/', 1)[1]}-{generation:05d}-abc",
                   "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"}}
        self.services[name] = service
        return service

    def _service_operation(self, project: str, region: str, service: dict[str, Any]) -> Any:
        prefix = f"projects/{project}/locations/{region}"
        if self.fail_revision:
            error = {"code": 9, "message": self.fail_revision}
            self.fail_revision = None
            return self.json(self.operation(prefix, None, "", error=error, polls=1))
        return self.json(self.operation(prefix, service, "type.googleapis.com/google.cloud.run.v2.Service",
                                        polls=1))

    def create_service(self, project: str, region: str, query: Any, body: Any, **_: Any) -> Any:
        service_id = query["serviceId"][0]
        name = f"projects/{project}/locations/{region}/services/{service_id}"
        if name in self.services:
            raise GoogleError(409, f"Resource '{service_id}' already exists.")
        if body.get("name"):
            raise GoogleError(400, "service.name must be empty on create")
        return self._service_operation(project, region, self._store_service(name, body))

    def update_service(self, project: str, region: str, service: str, body: Any, **_: Any) -> Any:
        name = f"projects/{project}/locations/{region}/services/{service}"
        if name not in self.services:
            raise GoogleError(404, f"Resource '{service}' does not exist.")
        return self._service_operation(project, region, self._store_service(name, body))

    def get_operation(self, name: str, *_: Any, **__: Any) -> Any:
        if name not in self.operations:
            raise GoogleError(404, f"operation {name} not found")
        if self.pending_polls.get(name, 0) > 0:
            self.pending_polls[name] -= 1
            return self.json({"name": name, "done": False})
        return self.json(self.operations[name])

    def get_service_policy(self, project: str, region: str, service: str, **_: Any) -> Any:
        return self.json(self.service_policies.get(service, {"etag": "ACAB"}))

    def set_service_policy(self, project: str, region: str, service: str, body: Any, **_: Any) -> Any:
        self.service_policies[service] = body["policy"]
        return self.json(body["policy"])

    # -- Secret Manager --------------------------------------------------------------------------------
    def _secret(self, secret_id: str) -> Secret:
        if secret_id not in self.secrets:
            raise GoogleError(404, f"Secret [projects/{NUMBER}/secrets/{secret_id}] not found.")
        return self.secrets[secret_id]

    def get_secret(self, project: str, secret_id: str, **_: Any) -> Any:
        return self.json(self._secret(secret_id).resource)

    def create_secret(self, project: str, query: Any, body: Any, **_: Any) -> Any:
        secret_id = query["secretId"][0]
        if secret_id in self.secrets:
            raise GoogleError(409, f"Secret [projects/{NUMBER}/secrets/{secret_id}] already exists.")
        resource = {**body, "name": f"projects/{NUMBER}/secrets/{secret_id}"}
        self.secrets[secret_id] = Secret(resource)
        return self.json(resource)

    def add_version(self, project: str, secret_id: str, body: Any, **_: Any) -> Any:
        secret = self._secret(secret_id)
        data = base64.b64decode(body["payload"]["data"])
        secret.versions.append(data)
        return self.json({"name": f"projects/{NUMBER}/secrets/{secret_id}/versions/{len(secret.versions)}",
                          "state": "ENABLED"})

    def access_latest(self, project: str, secret_id: str, **_: Any) -> Any:
        secret = self._secret(secret_id)
        if not secret.versions:
            raise GoogleError(404, f"Secret Version [projects/{NUMBER}/secrets/{secret_id}/versions/latest] "
                                   "not found or has no versions.")
        return self.json({"name": f"projects/{NUMBER}/secrets/{secret_id}/versions/{len(secret.versions)}",
                          "payload": {"data": base64.b64encode(secret.versions[-1]).decode()}})

    def get_version(self, project: str, secret_id: str, version: str, **_: Any) -> Any:
        secret = self._secret(secret_id)
        number = len(secret.versions) if version == "latest" else int(version)
        if not 1 <= number <= len(secret.versions):
            raise GoogleError(404, f"Secret Version [projects/{NUMBER}/secrets/{secret_id}/versions/{version}] "
                                   "not found.")
        return self.json({"name": f"projects/{NUMBER}/secrets/{secret_id}/versions/{number}",
                          "state": secret.states.get(number, "ENABLED")})

    def get_secret_policy(self, project: str, secret_id: str, **_: Any) -> Any:
        return self.json(self._secret(secret_id).policy)

    def set_secret_policy(self, project: str, secret_id: str, body: Any, **_: Any) -> Any:
        self._secret(secret_id).policy = body["policy"]
        return self.json(body["policy"])

    # -- IAM ----------------------------------------------------------------------------------------------
    def get_account(self, project: str, email: str, **_: Any) -> Any:
        if email not in self.accounts:
            raise GoogleError(404, f"Unknown service account {email}")
        return self.json(self.accounts[email])

    def create_account(self, project: str, body: Any, **_: Any) -> Any:
        email = f"{body['accountId']}@{project}.iam.gserviceaccount.com"
        if email in self.accounts:
            raise GoogleError(409, f"Service account {body['accountId']} already exists within project")
        self.accounts[email] = {"name": f"projects/{project}/serviceAccounts/{email}", "email": email,
                                "uniqueId": str(104242000000000000000 + len(self.accounts)),
                                **body.get("serviceAccount", {})}
        return self.json(self.accounts[email])

    # -- Artifact Registry -----------------------------------------------------------------------------------
    def get_repository(self, project: str, region: str, repo: str, **_: Any) -> Any:
        name = f"projects/{project}/locations/{region}/repositories/{repo}"
        if name not in self.repositories:
            raise GoogleError(404, f"Requested entity was not found. {name}")
        return self.json(self.repositories[name])

    def create_repository(self, project: str, region: str, query: Any, body: Any, **_: Any) -> Any:
        name = f"projects/{project}/locations/{region}/repositories/{query['repositoryId'][0]}"
        if name in self.repositories:
            raise GoogleError(409, "the repository already exists")
        self.repositories[name] = {**body, "name": name}
        return self.json(self.operation(
            f"projects/{project}/locations/{region}", self.repositories[name],
            "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"))

    def get_tag(self, name: str, *_: Any, **__: Any) -> Any:
        if name not in self.tags:
            raise GoogleError(404, f"Requested entity was not found. {name}")
        package = name.split("/tags/")[0]
        return self.json({"name": name, "version": f"{package}/versions/{self.tags[name]}"})

    # -- Cloud Storage -----------------------------------------------------------------------------------------
    def get_bucket(self, bucket: str, **_: Any) -> Any:
        if bucket not in self.buckets:
            raise GoogleError(404, "The specified bucket does not exist.")
        return self.json(self.buckets[bucket])

    def create_bucket(self, query: Any, body: Any, **_: Any) -> Any:
        if body["name"] in self.buckets:
            raise GoogleError(409, "Your previous request to create the named bucket succeeded and you "
                                   "already own it.")
        self.buckets[body["name"]] = {**body, "id": body["name"], "kind": "storage#bucket"}
        return self.json(self.buckets[body["name"]])

    def upload(self, bucket: str, query: Any, body: Any, headers: Any, **_: Any) -> Any:
        if bucket not in self.buckets:
            raise GoogleError(404, "The specified bucket does not exist.")
        if query.get("uploadType") != ["multipart"]:
            raise GoogleError(400, "the fake only takes multipart uploads")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body)
        meta_part, media_part = list(message.iter_parts())
        meta = json.loads(meta_part.get_payload(decode=True))
        data = media_part.get_payload(decode=True)
        self.objects[(bucket, meta["name"])] = data
        return self.json({"kind": "storage#object", "bucket": bucket, "name": meta["name"],
                          "size": str(len(data)), "generation": "1",
                          "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode()})

    def download(self, bucket: str, name: str, headers: Any, **_: Any) -> Any:
        data = self.objects.get((bucket, name))
        if data is None:
            raise GoogleError(404, "No such object")
        start = 0
        found = re.match(r"bytes=(\d+)-", headers.get("Range", "") or "")
        if found:
            start = int(found.group(1))
            if start >= len(data) and data:
                raise GoogleError(416, "The requested range cannot be satisfied.")
            return 206, {"Content-Type": "text/plain",
                         "Content-Range": f"bytes {start}-{max(len(data) - 1, start)}/{len(data)}"}, data[start:]
        return 200, {"Content-Type": "text/plain"}, data

    # -- Cloud Build ----------------------------------------------------------------------------------------------
    def create_build(self, project: str, body: Any, **_: Any) -> Any:
        build_id = f"build-{next(self.ids)}"
        source = body["source"]["storageSource"]
        build = {**body, "id": build_id, "projectId": project, "status": "QUEUED",
                 "logUrl": f"https://console.cloud.google.com/cloud-build/builds/{build_id}"}
        if (source["bucket"], source["object"]) not in self.objects:
            build.update(status="FAILURE", statusDetail="source object not found")
        self.builds[build_id] = build
        metadata = {"@type": "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata",
                    "build": build}
        op = {"name": f"operations/build/{project}/{build_id}", "done": False, "metadata": metadata}
        return self.json(op)

    def get_build(self, project: str, build_id: str, **_: Any) -> Any:
        build = self.builds.get(build_id)
        if build is None:
            raise GoogleError(404, "build not found")
        bucket = build["logsBucket"].removeprefix("gs://")
        log_name = (bucket, f"log-{build_id}.txt")
        if build["status"] == "QUEUED":
            build["status"] = "WORKING"
            self.objects[log_name] = b"starting build\nStep 1/9 : ARG TAILSCALE_VERSION\n"
        elif build["status"] == "WORKING":
            self.objects[log_name] += b"Successfully built 0123abcd\nPUSH\nDONE"
            if self.fail_build:
                build.update(status="FAILURE", statusDetail=self.fail_build)
            else:
                image = build["images"][0]
                build["status"] = "SUCCESS"
                digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
                build["results"] = {"images": [{"name": image, "digest": digest}]}
                host, project, repo, package_tag = image.split("/", 3)
                package, tag = package_tag.rsplit(":", 1)
                region = host.removesuffix("-docker.pkg.dev")
                self.tags[f"projects/{project}/locations/{region}/repositories/{repo}/packages/{package}"
                          f"/tags/{tag}"] = digest
        return self.json(build)

    # -- Resource Manager ------------------------------------------------------------------------------------------
    def get_project(self, project: str, **_: Any) -> Any:
        return self.json({"name": f"projects/{NUMBER}", "projectId": project, "state": "ACTIVE"})

    # -- the deployed service's readiness page ------------------------------------------------------------------------
    def ready(self, **_: Any) -> Any:
        text = b"ready" if self.ready_status == 200 else b"tailnet not running"
        return self.ready_status, {"Content-Type": "text/plain"}, text


    def removal_routes(self) -> Iterator[tuple[str, str, Any]]:
        loc = r"projects/([^/]+)/locations/([^/]+)"
        yield "DELETE", rf"/v2/{loc}/services/([^/:]+)", self.delete_service
        yield "DELETE", r"/v1/projects/([^/]+)/secrets/([^/:]+)", self.delete_secret
        yield "GET", rf"/v1/({loc}/repositories/[^/]+/packages/[^/:]+)", self.get_package
        yield "DELETE", rf"/v1/({loc}/repositories/[^/]+/packages/[^/:]+)", self.delete_package
        yield "DELETE", r"/v1/projects/([^/]+)/serviceAccounts/([^/]+)", self.delete_account

    def delete_service(self, project: str, region: str, service: str, **_: Any) -> Any:
        name = f"projects/{project}/locations/{region}/services/{service}"
        if name not in self.services:
            raise GoogleError(404, f"Resource '{service}' of kind 'SERVICE' does not exist.")
        deleted = self.services.pop(name)
        self.service_policies.pop(service, None)
        return self.json(self.operation(f"projects/{project}/locations/{region}", deleted,
                                        "type.googleapis.com/google.cloud.run.v2.Service", polls=1))

    def delete_secret(self, project: str, secret_id: str, **_: Any) -> Any:
        self._secret(secret_id)
        del self.secrets[secret_id]
        return self.json({})

    def _package_tags(self, name: str) -> list[str]:
        return [tag for tag in self.tags if tag.startswith(f"{name}/tags/")]

    def get_package(self, name: str, *_: Any, **__: Any) -> Any:
        if not self._package_tags(name):
            raise GoogleError(404, f"Requested entity was not found. {name}")
        return self.json({"name": name})

    def delete_package(self, name: str, project: str, region: str, **_: Any) -> Any:
        tags = self._package_tags(name)
        if not tags:
            raise GoogleError(404, f"Requested entity was not found. {name}")
        for tag in tags:
            del self.tags[tag]
        return self.json(self.operation(f"projects/{project}/locations/{region}", {},
                                        "type.googleapis.com/google.protobuf.Empty"))

    def delete_account(self, project: str, email: str, **_: Any) -> Any:
        if email not in self.accounts:
            raise GoogleError(404, f"Unknown service account {email}")
        del self.accounts[email]
        return self.json({})


    # -- what `devproxy init`'s set-up check calls: Service Usage, Resource Manager's testIamPermissions --------------
    def setup_routes(self) -> Iterator[tuple[str, str, Any]]:
        yield "GET", r"/v1/projects/([^/]+)/services:batchGet", self.batch_get_services
        yield "POST", r"/v1/projects/([^/]+)/services:batchEnable", self.batch_enable_services
        yield "POST", r"/v3/projects/([^/:]+):testIamPermissions", self.test_permissions

    def batch_get_services(self, project: str, query: Any, **_: Any) -> Any:
        names = query.get("names", [])
        if len(names) > 20:
            raise GoogleError(400, "at most 20 services in one batchGet")
        return self.json({"services": [
            {"name": f"projects/{NUMBER}/services/{api}", "parent": f"projects/{NUMBER}",
             "state": "ENABLED" if api in self.enabled_apis else "DISABLED"}
            for api in (name.rsplit("/", 1)[-1] for name in names)]})

    def batch_enable_services(self, project: str, body: Any, **_: Any) -> Any:
        ids = body["serviceIds"]
        self.enabled_apis.update(ids)
        response = {"@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse",
                    "services": [{"name": f"projects/{NUMBER}/services/{api}", "state": "ENABLED"} for api in ids]}
        return self.json({"name": f"operations/acat.p2-{NUMBER}-{next(self.ids)}", "done": True,
                          "response": response})

    def test_permissions(self, project: str, body: Any, **_: Any) -> Any:
        asked = body.get("permissions", [])
        held = [p for p in asked if self.granted is None or p in self.granted]
        return self.json({"permissions": held} if held else {})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.fake.handle(self.command, self.path, self.headers, body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, *_: Any) -> None:
        pass


class FakeServer:
    """The fake on 127.0.0.1, port 0, served by a background thread."""

    def __init__(self) -> None:
        self.fake = FakeGoogle()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.fake.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeGoogle:
        self.thread.start()
        return self.fake

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def env(self) -> dict[str, str]:
        return {f"DEVPROXY_{api}_ENDPOINT": self.fake.url for api in
                ("RUN", "SECRETMANAGER", "STORAGE", "CLOUDBUILD", "ARTIFACTREGISTRY", "IAM", "RESOURCEMANAGER",
                 "SERVICEUSAGE", "IAP")}
