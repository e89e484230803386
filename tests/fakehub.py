"""A local stand-in for the Hugging Face Hub's file endpoint, so that the real huggingface_hub
download code runs end to end (HEAD for metadata, GET for bytes, error headers) offline; and for
the few API calls that `arenatok push` makes to a new dataset repo (does it exist, create it,
check the card's YAML, one commit of regular files)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class FakeHub:
    """Serves `files` ({"repo_id/revision/filename": bytes}); `error` forces an X-Error-Code."""

    files: dict[str, bytes]
    error: tuple[int, str] | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""
    repos: set[str] = field(default_factory=set)
    commits: list[dict[str, bytes]] = field(default_factory=list)
    """Each commit pushed: its files by path."""


def _api(hub: FakeHub, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON) of an API call, for a dataset repo `owner/name`."""
    parts = path.split("?")[0].strip("/").split("/")  # api, datasets, owner, name, ...
    if method == "POST" and parts[1:] == ["repos", "create"]:
        asked = json.loads(body)
        hub.repos.add(f"{asked['organization']}/{asked['name']}")
        return 200, {}, {"url": f"{hub.url}/datasets/{asked['organization']}/{asked['name']}"}
    if method == "POST" and parts[1:] == ["validate-yaml"]:
        return 200, {}, {"errors": [], "warnings": []}
    repo = "/".join(parts[2:4])
    if parts[1] != "datasets" or repo not in hub.repos:
        return 404, {"X-Error-Code": "RepoNotFound"}, {"error": "not found"}
    if method == "POST" and parts[4:5] == ["preupload"]:
        files = json.loads(body)["files"]
        modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
        return 200, {}, {"files": modes}
    if method == "POST" and parts[4:5] == ["commit"]:
        items = [json.loads(line) for line in body.splitlines() if line.strip()]
        hub.commits.append(
            {
                i["value"]["path"]: base64.b64decode(i["value"]["content"])
                for i in items
                if i["key"] == "file"
            }
        )
        return 200, {}, {"commitOid": "0" * 40, "commitUrl": f"{hub.url}/datasets/{repo}"}
    return 200, {}, {"id": repo, "sha": "0" * 40, "siblings": []}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self, body: bool) -> None:
            hub.requests.append((self.command, self.path, self.headers.get("Authorization")))
            if hub.error:
                status, code = hub.error
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", f"fake hub says {code}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            # /datasets/{owner}/{name}/resolve/{revision}/{path}
            parts = self.path.split("/", 6)
            if len(parts) < 7 or parts[1] != "datasets" or parts[4] != "resolve":
                self.send_error(404)
                return
            repo, revision, filename = f"{parts[2]}/{parts[3]}", parts[5], parts[6]
            data = hub.files.get(f"{repo}/{revision}/{filename}")
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("X-Repo-Commit", revision)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _answer_api(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hub.requests.append((self.command, self.path, self.headers.get("Authorization")))
            status, headers, answer = _api(hub, self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            if self.path.startswith("/api/"):
                self._answer_api()
            else:
                self._serve(body=True)

        def do_POST(self) -> None:
            self._answer_api()

    return Handler


@contextmanager
def serve(files: dict[str, Path | bytes]) -> Iterator[FakeHub]:
    """Run a FakeHub on a free localhost port for the duration of the block."""
    hub = FakeHub({k: v if isinstance(v, bytes) else v.read_bytes() for k, v in files.items()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
