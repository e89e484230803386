"""Local stand-ins for the Hugging Face Hub. `serve`: its HTTP endpoints, so that the real
huggingface_hub code runs end to end offline (HEAD and GET of a file, a repo's info, creating a
repo, the README's check, the upload modes and a commit of regular files). `FakeApi`: the
client object that `push` may be given, which records its calls."""

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
    """Serves `files` ({"repo_id/revision/filename": bytes}); `error` forces an X-Error-Code. A
    commit to a repo adds its files at revision `main`; `commits` keeps each one's files
    ({path: bytes}) in order."""

    files: dict[str, bytes]
    error: tuple[int, str] | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""
    repos: set[str] = field(default_factory=set)
    commits: list[dict[str, bytes]] = field(default_factory=list)

    def has(self, repo: str) -> bool:
        return repo in self.repos or any(k.startswith(f"{repo}/") for k in self.files)


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, data: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _json(self, value: Any) -> None:
            self._answer(200, json.dumps(value).encode(), Content_Type="application/json")

        def _failed(self) -> bool:
            hub.requests.append((self.command, self.path, self.headers.get("Authorization")))
            if hub.error:
                status, code = hub.error
                self._answer(status, X_Error_Code=code, X_Error_Message=f"fake hub says {code}")
            return hub.error is not None

        def _serve(self) -> None:
            if self._failed():
                return
            parts = self.path.split("?")[0].split("/", 6)
            if parts[1:3] == ["api", "datasets"]:  # /api/datasets/{owner}/{name}: its info
                repo = "/".join(parts[3:5])
                if not hub.has(repo):
                    self._answer(404, X_Error_Code="RepoNotFound")
                    return
                self._json({"id": repo, "sha": "0" * 40, "siblings": []})
                return
            # /datasets/{owner}/{name}/resolve/{revision}/{path}
            if len(parts) < 7 or parts[1] != "datasets" or parts[4] != "resolve":
                self.send_error(404)
                return
            repo, revision, filename = f"{parts[2]}/{parts[3]}", parts[5], parts[6]
            data = hub.files.get(f"{repo}/{revision}/{filename}")
            if data is None:
                self._answer(404, X_Error_Code="EntryNotFound")
                return
            etag = f'"{hashlib.sha256(data).hexdigest()}"'
            self._answer(200, data, X_Repo_Commit=revision, ETag=etag)

        def do_HEAD(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self._failed():
                return
            parts = self.path.split("?")[0].split("/")
            if self.path == "/api/repos/create":
                asked = json.loads(body)
                repo = f"{asked['organization']}/{asked['name']}"
                hub.repos.add(repo)
                self._json({"url": f"{hub.url}/datasets/{repo}"})
            elif self.path == "/api/validate-yaml":
                self._json({"errors": [], "warnings": []})
            elif parts[-2:-1] == ["preupload"]:  # every file sent in the commit itself
                files = json.loads(body)["files"]
                mode = {"uploadMode": "regular", "shouldIgnore": False}
                self._json({"files": [{"path": f["path"], **mode} for f in files]})
            elif parts[-2:-1] == ["commit"]:
                repo = "/".join(parts[3:5])
                lines = [json.loads(line) for line in body.splitlines()]
                sent = [x["value"] for x in lines if x["key"] == "file"]
                files = {f["path"]: base64.b64decode(f["content"]) for f in sent}
                hub.commits.append(files)
                hub.files.update({f"{repo}/main/{p}": data for p, data in files.items()})
                url = f"{hub.url}/datasets/{repo}/commit/{'1' * 40}"
                self._json({"commitUrl": url, "commitOid": "1" * 40})
            else:
                self.send_error(404)

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


class FakeApi:
    """The Hub client at the boundary: records calls, answers from a tiny in-memory state
    (`files`: the repo's, None when there is no repo), and keeps the bytes of each file a
    commit sends (`uploaded`), read from what it was handed as the real client reads it."""

    endpoint = "https://huggingface.co"

    def __init__(
        self,
        files: dict[str, str] | None = None,
        error: Exception | None = None,
        tmp: Path = Path(),
    ) -> None:
        self.files = files
        self.error = error
        self.tmp = tmp
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploaded: dict[str, bytes] = {}

    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error

    def repo_exists(self, repo_id: str, *, repo_type: str) -> bool:
        self._call("repo_exists", repo_id=repo_id, repo_type=repo_type)
        return self.files is not None

    def list_repo_files(self, repo_id: str, *, repo_type: str) -> list[str]:
        self._call("list_repo_files", repo_id=repo_id, repo_type=repo_type)
        return sorted(self.files or {})

    def hf_hub_download(self, repo_id: str, filename: str, *, repo_type: str) -> str:
        self._call("hf_hub_download", repo_id=repo_id, filename=filename, repo_type=repo_type)
        path = self.tmp / filename
        path.write_text((self.files or {})[filename])
        return str(path)

    def create_repo(self, repo_id: str, *, repo_type: str, private: bool) -> None:
        self._call("create_repo", repo_id=repo_id, repo_type=repo_type, private=private)

    def create_commit(self, repo_id: str, operations: list[Any], **kwargs: Any) -> None:
        self._call("create_commit", repo_id=repo_id, operations=operations, **kwargs)
        for op in operations:
            with op.as_file() as f:
                self.uploaded[op.path_in_repo] = f.read()
