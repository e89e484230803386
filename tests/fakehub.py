"""A local stand-in for the Hugging Face Hub's file endpoint, so that the real huggingface_hub
download code runs end to end (HEAD for metadata, GET for bytes, error headers) offline."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class FakeHub:
    """Serves `files` ({"repo_id/revision/filename": bytes}); `error` forces an X-Error-Code."""

    files: dict[str, bytes]
    error: tuple[int, str] | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""


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

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

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
