"""A small in-memory stand-in for the Hugging Face Hub's HTTP API, for push/pull round trips in tests.

Stdlib only (`ThreadingHTTPServer` on 127.0.0.1). It answers the routes `huggingface_hub` uses for
`create_repo`, `upload_folder` / `push_to_hub` (preupload + commit; every file is "regular", so no LFS or Xet),
model cards, `repo_info`, `list_repo_tree` and file downloads (`HEAD`/`GET .../resolve/...`). Each commit stores a
full snapshot, so revisions resolve by branch name ("main") or commit sha. It checks client-side wire compatibility
only: no auth, no LFS/Xet, no size limits.

    with HubServer() as hub:            # hub.endpoint -> "http://127.0.0.1:<port>"
        ...  # run clients with HF_ENDPOINT=hub.endpoint (set before huggingface_hub is imported)
        hub.files("me/model")           # {path: bytes} at main
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_BRANCH = "main"


@dataclass
class Commit:
    oid: str
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    commits: list[Commit] = field(default_factory=list)

    def snapshot(self, revision: str) -> Commit | None:
        if not self.commits:
            return None
        if revision in (DEFAULT_BRANCH, "HEAD"):
            return self.commits[-1]
        return next((c for c in self.commits if c.oid == revision), None)


class HubState:
    """Repositories by id; every access under one lock (the server is threaded)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) log, for assertions

    def create(self, repo_id: str) -> Repo:
        with self.lock:
            if repo_id not in self.repos:
                repo = Repo(repo_id)
                repo.commits.append(Commit(_sha(repo_id + "/initial"), "initial commit", {}))
                self.repos[repo_id] = repo
            return self.repos[repo_id]

    def commit(self, repo_id: str, message: str, added: dict[str, bytes], deleted: list[str]) -> Commit:
        with self.lock:
            repo = self.repos[repo_id]
            files = dict(repo.commits[-1].files)
            files.update(added)
            for path in deleted:
                files.pop(path, None)
            commit = Commit(_sha(f"{repo_id}/{len(repo.commits)}/{message}"), message, files)
            repo.commits.append(commit)
            return commit


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class HubRequestHandler(BaseHTTPRequestHandler):
    server: HubHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # --- plumbing ------------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload=None, headers: dict | None = None, head_only: bool = False):
        body = payload if isinstance(payload, bytes) else json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        if not isinstance(payload, bytes):
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, head_only: bool = False):
        self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}, head_only)

    def _route(self, method: str):
        url = urlsplit(self.path)
        path = unquote(url.path)
        self.server.state.requests.append((method, path))
        parts = [p for p in path.split("/") if p]
        query = parse_qs(url.query)
        try:
            self._dispatch(method, parts, query)
        except Exception as err:  # surface server bugs to the client as a 500 with the reason
            self._error(500, "ServerError", f"{type(err).__name__}: {err}", head_only=method == "HEAD")

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    # --- routes --------------------------------------------------------------------------------------------------
    def _dispatch(self, method: str, parts: list[str], query: dict):
        state = self.server.state
        head = method == "HEAD"
        if parts[:2] == ["api", "repos"] and parts[2:] == ["create"] and method == "POST":
            payload = json.loads(self._body() or b"{}")
            repo_id = (
                f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            )
            state.create(repo_id)
            return self._send(200, {"url": f"{self.server.endpoint}/{repo_id}", "name": repo_id})
        if parts[:2] == ["api", "whoami-v2"]:
            return self._send(200, {"name": "me", "type": "user", "orgs": []})
        if parts[:2] == ["api", "validate-yaml"] and method == "POST":
            self._body()
            return self._send(200, {"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            return self._model_api(method, "/".join(parts[2:4]), parts[4:], query)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), head)
        return self._error(404, "EntryNotFound", f"no route for {'/'.join(parts)}", head)

    def _repo(self, repo_id: str) -> Repo | None:
        with self.server.state.lock:
            return self.server.state.repos.get(repo_id)

    def _model_api(self, method: str, repo_id: str, rest: list[str], query: dict):
        repo = self._repo(repo_id)
        head = method == "HEAD"
        if repo is None:
            self._body()
            return self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
        if rest[:1] == ["preupload"] and method == "POST":
            files = json.loads(self._body()).get("files", [])
            return self._send(
                200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if rest[:1] == ["commit"] and method == "POST":
            return self._commit(repo_id, self._body())
        revision = rest[1] if len(rest) >= 2 and rest[0] in ("revision", "tree", "paths-info") else DEFAULT_BRANCH
        commit = repo.snapshot(unquote(revision))
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Revision {revision} not found", head)
        if not rest or rest[0] == "revision":
            siblings = [{"rfilename": path, "size": len(data)} for path, data in sorted(commit.files.items())]
            return self._send(
                200,
                {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": commit.oid,
                    "siblings": siblings,
                    "private": False,
                    "tags": [],
                    "lastModified": "2026-01-01T00:00:00.000Z",
                },
                head_only=head,
            )
        if rest[0] == "tree":
            prefix = "/".join(rest[2:])
            entries = [_tree_entry(p, d) for p, d in sorted(commit.files.items()) if p.startswith(prefix)]
            return self._send(200, entries, head_only=head)
        if rest[0] == "paths-info" and method == "POST":
            body = self._body()
            wanted = parse_qs(body.decode()).get("paths", []) or json.loads(body or b"{}").get("paths", [])
            return self._send(200, [_tree_entry(p, commit.files[p]) for p in wanted if p in commit.files])
        return self._error(404, "EntryNotFound", f"no route for {repo_id}/{'/'.join(rest)}", head)

    def _commit(self, repo_id: str, body: bytes):
        message, added, deleted = "", {}, []
        for line in body.decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                message = value.get("summary", "")
            elif item["key"] == "file":
                added[value["path"]] = (
                    base64.b64decode(value["content"])
                    if value.get("encoding") == "base64"
                    else value["content"].encode()
                )
            elif item["key"] in ("deletedFile", "deletedFolder"):
                deleted.append(value["path"])
            else:  # lfsFile / copies would need LFS storage, which this stand-in never asks for
                return self._error(400, "BadRequest", f"unsupported commit operation {item['key']}")
        commit = self.server.state.commit(repo_id, message, added, deleted)
        return self._send(
            200, {"commitUrl": f"{self.server.endpoint}/{repo_id}/commit/{commit.oid}", "commitOid": commit.oid}
        )

    def _resolve(self, repo_id: str, revision: str, path: str, head: bool):
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
        commit = repo.snapshot(unquote(revision))
        if commit is None:
            return self._error(404, "RevisionNotFound", f"Revision {revision} not found", head)
        if path not in commit.files:
            headers = {"X-Repo-Commit": commit.oid}
            self.send_response(404)
            for key, value in {
                **headers,
                "X-Error-Code": "EntryNotFound",
                "X-Error-Message": "Entry not found",
            }.items():
                self.send_header(key, value)
            body = b'{"error":"Entry not found"}'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return None
        data = commit.files[path]
        headers = {
            "X-Repo-Commit": commit.oid,
            "ETag": f'"{_git_oid(data)}"',
            "Content-Type": "application/octet-stream",
        }
        return self._send(200, data, headers, head_only=head)


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _tree_entry(path: str, data: bytes) -> dict:
    return {"type": "file", "path": path, "size": len(data), "oid": _git_oid(data)}


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: HubState):
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.state = state
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"


class HubServer:
    """Context manager running the stand-in on a free loopback port in a background thread."""

    def __init__(self):
        self.state = HubState()
        self.httpd = HubHTTPServer(self.state)
        self.endpoint = self.httpd.endpoint
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def files(self, repo_id: str, revision: str = DEFAULT_BRANCH) -> dict[str, bytes]:
        with self.state.lock:
            return dict(self.state.repos[repo_id].snapshot(revision).files)

    def commits(self, repo_id: str) -> list[str]:
        with self.state.lock:
            return [c.message for c in self.state.repos[repo_id].commits]


if __name__ == "__main__":  # manual use: python tests/hub_server.py, then HF_ENDPOINT=<printed url>
    with HubServer() as hub:
        print(hub.endpoint, flush=True)
        threading.Event().wait()
