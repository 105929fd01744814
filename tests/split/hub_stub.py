"""A local stand-in for the Hugging Face Hub's HTTP API: a real server on 127.0.0.1 that
``huggingface_hub`` (and ``datasets.push_to_hub``) talk to through ``HF_ENDPOINT``.

It implements what dataset uploads use: repo creation and info, YAML validation, pre-upload (Parquet files
go through Git LFS's basic transfer, the rest inline in the commit), NDJSON commits (additions, LFS files,
deletions), tree listing, paths-info, and file download with ``resolve``. Files live in memory per repo; every request's ``Authorization`` header is
recorded so tests can check which token was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


class HubStub:
    """Start with ``with HubStub() as hub: ...``; ``hub.endpoint`` is the URL for ``HF_ENDPOINT``."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.auth_headers: list[str] = []
        self.requests: list[str] = []
        self.unhandled: list[str] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes | dict | list = b"", headers: dict[str, str] | None = None,
                      head: bool = False) -> None:
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json", **(headers or {})}
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _route(self, method: str) -> None:
                with stub.lock:
                    stub.auth_headers.append(self.headers.get("Authorization", ""))
                    stub.requests.append(f"{method} {self.path}")
                    try:
                        stub.handle(self, method)
                    except Exception as err:  # surface stub bugs as 500s with the message
                        self._send(500, {"error": f"stub: {err!r}"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_HEAD(self) -> None:
                self._route("HEAD")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PUT(self) -> None:
                self._route("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------------- routes
    def _repo_and_rest(self, parts: list[str]) -> tuple[Repo | None, list[str]]:
        repo_id = "/".join(parts[:2])
        return self.repos.get(repo_id), parts[2:]

    def _entries(self, repo: Repo, prefix: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = prefix.strip("/")
        out, dirs = [], set()
        for path, data in sorted(repo.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:] if prefix else path
            if "/" in rest and not recursive:
                d = (prefix + "/" if prefix else "") + rest.split("/")[0]
                if d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "path": d, "oid": "0" * 40, "size": 0})
                continue
            if recursive:
                segs = rest.split("/")[:-1]
                for k in range(1, len(segs) + 1):
                    d = (prefix + "/" if prefix else "") + "/".join(segs[:k])
                    if d not in dirs:
                        dirs.add(d)
                        out.append({"type": "directory", "path": d, "oid": "0" * 40, "size": 0})
            out.append(self._file_entry(path, data))
        return out

    @staticmethod
    def _file_entry(path: str, data: bytes) -> dict[str, Any]:
        return {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    def _info(self, repo: Repo) -> dict[str, Any]:
        return {"id": repo.repo_id, "_id": repo.repo_id, "private": repo.private, "sha": repo.sha,
                "siblings": [{"rfilename": p} for p in sorted(repo.files)], "tags": [], "downloads": 0,
                "likes": 0, "author": repo.repo_id.split("/")[0], "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z", "disabled": False, "gated": False}

    def handle(self, h: Any, method: str) -> None:
        url = urllib.parse.urlparse(h.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        body = h._body() if method in ("POST", "PUT") else b""
        if method == "PUT" and parts[0] == "lfs-upload":
            self.blobs[parts[1]] = body
            return h._send(200, b"")
        if method == "POST" and len(parts) >= 6 and parts[0] == "datasets" and parts[-3:] == ["lfs", "objects", "batch"]:
            objs = json.loads(body)["objects"]
            return h._send(200, {"transfer": "basic", "objects": [
                {"oid": o["oid"], "size": o["size"], "authenticated": True,
                 "actions": {"upload": {"href": f"{self.endpoint}/lfs-upload/{o['oid']}", "header": {}}}}
                for o in objs]}, {"Content-Type": "application/vnd.git-lfs+json"})
        if method == "POST" and parts[:2] == ["api", "validate-yaml"]:
            return h._send(200, {"errors": [], "warnings": []})
        if method == "POST" and parts[:3] == ["api", "repos", "create"]:
            data = json.loads(body or b"{}")
            repo_id = f"{data.get('organization') or 'user'}/{data['name']}" if "/" not in data["name"] else data["name"]
            if repo_id in self.repos:
                return h._send(409, {"error": "You already created this dataset repo", "url": f"{self.endpoint}/datasets/{repo_id}"})
            self.repos[repo_id] = Repo(repo_id, private=bool(data.get("private")) or data.get("visibility") == "private")
            return h._send(200, {"url": f"{self.endpoint}/datasets/{repo_id}", "name": repo_id})
        if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
            repo, rest = self._repo_and_rest(parts[2:])
            if repo is None:
                return h._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            if not rest or rest[0] == "revision":
                return h._send(200, self._info(repo))
            if rest[0] == "preupload" and method == "POST":
                files = json.loads(body)["files"]
                return h._send(200, {"files": [{"path": f["path"], "shouldIgnore": False,
                                                "uploadMode": "lfs" if f["path"].endswith(".parquet") else "regular"}
                                               for f in files], "commitOid": repo.sha})
            if rest[0] == "commit" and method == "POST":
                return self._commit(h, repo, body)
            if rest[0] == "tree":
                prefix = "/".join(rest[2:])
                entries = self._entries(repo, prefix, query.get("recursive", ["false"])[0].lower() == "true")
                if prefix and not entries and prefix not in repo.files:
                    return h._send(404, {"error": "not found"}, {"X-Error-Code": "EntryNotFound"})
                return h._send(200, entries)
            if rest[0] == "paths-info" and method == "POST":
                ctype = h.headers.get("Content-Type", "")
                if "json" in ctype:
                    paths = json.loads(body).get("paths", [])
                else:
                    paths = urllib.parse.parse_qs(body.decode()).get("paths", [])
                out = []
                for p in paths:
                    p = p.strip("/")
                    if p in repo.files:
                        out.append(self._file_entry(p, repo.files[p]))
                    elif any(f.startswith(p + "/") for f in repo.files):
                        out.append({"type": "directory", "path": p, "oid": "0" * 40, "size": 0})
                return h._send(200, out)
        if parts and parts[0] == "datasets" and len(parts) >= 5 and parts[3] == "resolve":
            repo, _ = self._repo_and_rest(parts[1:])
            path = "/".join(parts[5:])
            if repo is None or path not in repo.files:
                return h._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
            data = repo.files[path]
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                       "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            rng = h.headers.get("Range")
            if rng and rng.startswith("bytes=") and method == "GET":
                a, _, b = rng[6:].partition("-")
                start = int(a or 0)
                end = min(int(b) if b else len(data) - 1, len(data) - 1)
                chunk = data[start:end + 1]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return h._send(206, chunk, headers)
            return h._send(200, data, headers, head=method == "HEAD")
        self.unhandled.append(f"{method} {h.path}")
        return h._send(404, {"error": f"stub: no route for {method} {url.path}"})

    def _commit(self, h: Any, repo: Repo, body: bytes) -> None:
        lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
        header = next((x["value"] for x in lines if x["key"] == "header"), {})
        parent = header.get("parentCommit")
        if parent and parent != repo.sha:
            return h._send(412, {"error": "parent commit is not the head"})
        changed = []
        for x in lines:
            v = x["value"]
            if x["key"] == "file":
                repo.files[v["path"]] = base64.b64decode(v["content"]) if v.get("encoding") == "base64" \
                    else v["content"].encode()
                changed.append(("add", v["path"]))
            elif x["key"] == "deletedFile":
                repo.files.pop(v["path"], None)
                changed.append(("delete", v["path"]))
            elif x["key"] == "deletedFolder":
                for p in [p for p in repo.files if p.startswith(v["path"].rstrip("/") + "/")]:
                    repo.files.pop(p)
                changed.append(("delete_folder", v["path"]))
            elif x["key"] == "lfsFile":
                if v["oid"] not in self.blobs:
                    return h._send(400, {"error": f"stub: LFS object {v['oid']} was never uploaded"})
                repo.files[v["path"]] = self.blobs[v["oid"]]
                changed.append(("add", v["path"]))
        oid = hashlib.sha1(f"{len(repo.commits)}:{body!r}".encode()).hexdigest()
        repo.commits.append({"oid": oid, "summary": header.get("summary", ""), "changes": changed})
        return h._send(200, {"success": True, "commitOid": oid, "commitUrl": f"{self.endpoint}/datasets/{repo.repo_id}/commit/{oid}",
                             "pullRequestUrl": None})
