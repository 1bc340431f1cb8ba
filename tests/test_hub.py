"""hf:// checkpoints, model cards and `push`, against a fake Hub on 127.0.0.1 driven by the real huggingface_hub.

`FakeHub` is a small HTTP server that answers the requests the real client makes, the way huggingface.co answers
them: `HEAD`/`GET /{repo}/resolve/{revision}/{path}` with `X-Repo-Commit`, `ETag` and `Content-Length` (and
`X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound` on a 404), `GET /api/models/{repo}/revision/{rev}`
and `/tree/{rev}` (for folder snapshots), and for uploads `POST /api/repos/create`, `/api/validate-yaml`,
`/api/models/{repo}/preupload/{rev}` and `/api/models/{repo}/commit/{rev}` (NDJSON, files base64 inline). So
`hf_hub_download`, `snapshot_download`, `HfApi.create_repo` and `HfApi.create_commit` run unpatched: `push` is
tested against the server, not by mocking `HfApi`. The server answers "regular" (inline) upload mode for every file,
so the LFS/Xet upload paths of the client are not exercised.

`HF_ENDPOINT`, `HF_HUB_CACHE`, `HF_HOME` point at the server and a temporary cache; nothing leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Imported here, before any test sets HF_HUB_OFFLINE=1, which the library would otherwise freeze into its constants.
import huggingface_hub
import huggingface_hub.constants
import huggingface_hub.file_download
import huggingface_hub.utils._http
import pytest
import torch
import yaml

from tests.conftest import REPO_ROOT
from vaegan.checkpoint import load_model, read_info, save_model
from vaegan.classifier import DigitClassifier
from vaegan.errors import CheckpointError, HubError
from vaegan.hub import is_hub_spec, parse_spec, resolve_checkpoint
from vaegan.publish import model_card, push
from vaegan.vae import VAE, VAEConfig
from vaegan.wgan import Generator, WGANConfig

# ------------------------------------------------------------------------------------------- the fake Hub


@dataclass
class FakeRepo:
    private: bool = False
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> {path: content}
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit sha


class FakeHub:
    """The Hub's file-serving and commit API, in memory. `requests` logs (method, path, headers) of every call."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet test output
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - the http.server API
                hub._handle(self, "HEAD")

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                hub._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- content

    def commit(self, repo_id: str, files: dict[str, bytes], *, private: bool = False) -> str:
        """Add a commit on main holding the previous files plus `files`; returns its sha."""
        repo = self.repos.setdefault(repo_id, FakeRepo(private=private))
        previous = repo.commits.get(repo.refs.get("main", ""), {})
        sha = hashlib.sha1(f"{repo_id}{len(repo.commits)}{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = {**previous, **files}
        repo.refs["main"] = sha
        return sha

    def calls(self, method: str | None = None) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if method is None or r[0] == method]

    # -- HTTP

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
        handler.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _json(self, handler: BaseHTTPRequestHandler, payload: object, status: int = 200, **headers: str) -> None:
        self._send(handler, status, json.dumps(payload).encode(), **headers)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: str, **headers: str) -> None:
        self._json(handler, {"error": code}, status, X_Error_Code=code, **headers)

    def _snapshot(self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str) -> tuple[str, dict] | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(handler, 404, "RepoNotFound")
            return None
        sha = repo.refs.get(revision, revision if revision in repo.commits else None)
        if sha is None:
            self._error(handler, 404, "RevisionNotFound")
            return None
        return sha, repo.commits[sha]

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        self.requests.append((method, url.path, dict(handler.headers.items())))
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) if method == "POST" else b""
        parts = url.path.strip("/").split("/")
        api = parts[:2] == ["api", "models"] and len(parts) >= 6  # /api/models/OWNER/NAME/ENDPOINT/REVISION
        if method == "POST" and handler.headers.get("authorization") == "Bearer hf_refused":
            self._json(handler, {"error": "Invalid credentials in Authorization header"}, 401)
        elif len(parts) >= 5 and parts[2] == "resolve" and method in ("HEAD", "GET"):
            self._resolve(handler, f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:])))
        elif api and parts[4] in ("revision", "tree") and method == "GET":
            found = self._snapshot(handler, f"{parts[2]}/{parts[3]}", unquote(parts[5]))
            if found is not None:
                sha, files = found
                if parts[4] == "revision":
                    siblings = [{"rfilename": p} for p in sorted(files)]
                    self._json(handler, {"id": f"{parts[2]}/{parts[3]}", "sha": sha, "siblings": siblings})
                else:
                    tree = [
                        {"type": "file", "path": p, "size": len(c), "oid": hashlib.sha1(c).hexdigest()}
                        for p, c in sorted(files.items())
                    ]
                    self._json(handler, tree)
        elif url.path == "/api/repos/create" and method == "POST":
            payload = json.loads(body)
            repo_id = f"{payload['organization']}/{payload['name']}"
            if repo_id in self.repos:
                # as the Hub does: the 409 still carries the repo's url, which create_repo(exist_ok=True) returns
                self._json(handler, {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"},
                           409)  # fmt: skip
            else:
                # huggingface_hub 1.x sends "visibility": "private", 0.x sent "private": true
                private = payload.get("visibility") == "private" or payload.get("private") is True
                self.repos[repo_id] = FakeRepo(private=private)
                # like the Hub: a new repo starts with one commit (its default .gitattributes) on main
                self.commit(repo_id, {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"})
                self._json(handler, {"url": f"{self.url}/{repo_id}", "name": repo_id})
        elif url.path == "/api/validate-yaml" and method == "POST":
            self._json(handler, {"errors": [], "warnings": []})
        elif api and parts[4] == "preupload" and method == "POST":
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            self._json(handler, {"files": modes})
        elif api and parts[4] == "commit" and method == "POST":
            repo_id = f"{parts[2]}/{parts[3]}"
            if repo_id not in self.repos:
                self._error(handler, 404, "RepoNotFound")
                return
            added = {}
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            sha = self.commit(repo_id, added)
            self._json(handler, {"commitUrl": f"{self.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                                 "pullRequestUrl": None})  # fmt: skip
        else:
            self._error(handler, 404, "NotFound")

    def _resolve(self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str, path: str) -> None:
        found = self._snapshot(handler, repo_id, revision)
        if found is None:
            return
        sha, files = found
        if path not in files:
            self._error(handler, 404, "EntryNotFound", X_Repo_Commit=sha)
            return
        content = files[path]
        etag = hashlib.sha256(content).hexdigest()  # the Hub's ETag of an LFS file is its sha256
        self._send(handler, 200, content, ETag=f'"{etag}"', X_Repo_Commit=sha,
                   Content_Type="application/octet-stream")  # fmt: skip

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once (the 'no network' case)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        # A safety net first: a name other than loopback is never even looked up, so no request can leave the
        # machine whatever URL a library builds.
        real_getaddrinfo = socket.getaddrinfo

        def loopback_only(host: object, *args: object, **kwargs: object) -> object:
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise socket.gaierror(f"tests/test_hub.py: refusing to resolve {host!r} (loopback only)")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
        # vaegan.hub passes HF_ENDPOINT on explicitly, but huggingface_hub also builds some URLs from the value it
        # read at import (0.x: CommitInfo's repo URL; 1.x: a once-a-day registry fetch): set those as if HF_ENDPOINT
        # had been set before the process started. The URL template must change with the endpoint, or the library
        # would aim its requests at huggingface.co.
        template = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
        monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        if hasattr(huggingface_hub.file_download, "HUGGINGFACE_CO_URL_TEMPLATE"):  # 0.x imports it by name
            monkeypatch.setattr(huggingface_hub.file_download, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        yield hub


def go_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 as a user sets it, before the process starts: the variable, and the library's constant
    that it read at import (which also stops its own once-a-day registry fetch)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def go_online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def tiny_vae_bytes(tmp_path: Path, name: str = "vae.safetensors", **kwargs: object) -> bytes:
    model = VAE(VAEConfig(latent_dim=4, hidden=16))
    return save_model(model, tmp_path / name, **kwargs).read_bytes()


@pytest.fixture
def hub_vae(fake_hub: FakeHub, tmp_path: Path) -> tuple[FakeHub, bytes]:
    content = tiny_vae_bytes(tmp_path / "src", dataset="mnist", steps=3, metrics={"valid_neg_elbo": 1.5})
    fake_hub.commit("alice/tiny", {"vae.safetensors": content, "nested/dir/vae.safetensors": content})
    return fake_hub, content


def assert_one_line(error: BaseException, *fragments: str) -> None:
    text = str(error)
    assert "\n" not in text, f"not one line: {text!r}"
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"


# -------------------------------------------------------------------------------------------------- specs


def test_specs_parse_in_both_the_typed_and_the_path_collapsed_spelling() -> None:
    spec = parse_spec("hf://alice/tiny-vae/sub/vae.safetensors@refs/pr/1")
    assert (spec.repo_id, spec.path, spec.revision) == ("alice/tiny-vae", "sub/vae.safetensors", "refs/pr/1")
    # Typer hands --ckpt over as a Path, and Path collapses '//': the same spec must come out.
    collapsed = Path("hf://alice/tiny-vae/vae.safetensors@v1")
    assert str(collapsed).startswith("hf:/a") and is_hub_spec(collapsed)
    assert parse_spec(collapsed) == parse_spec("hf://alice/tiny-vae/vae.safetensors@v1")
    assert str(parse_spec(collapsed)) == "hf://alice/tiny-vae/vae.safetensors@v1"
    assert parse_spec("hf://alice/models", folder=True).path == ""
    assert not is_hub_spec("checkpoints/vae.safetensors")
    assert resolve_checkpoint("checkpoints/vae.safetensors") == Path("checkpoints/vae.safetensors")


@pytest.mark.parametrize(
    "spec",
    [
        "hf://alice",  # no repo
        "hf://alice/tiny/",  # an empty file path (hf://alice/tiny, the whole repo, is a valid spec)
        "hf://alice/tiny/model.bin",  # not safetensors
        "hf://-alice/tiny/vae.safetensors",  # bad owner
        "hf://alice/ti--ny/vae.safetensors",  # bad repo name
        "hf://alice/tiny/vae.safetensors@",  # empty revision
        "hf://alice/tiny/a@b/vae.safetensors@main",  # two '@'
        "hf://alice/tiny//vae.safetensors",  # empty segment
        "hf://alice/tiny/../vae.safetensors",  # '..'
    ],
)
def test_a_malformed_spec_is_a_one_line_hub_error_from_load_model(spec: str) -> None:
    with pytest.raises(HubError) as caught:
        load_model(spec, kind="vae")
    assert isinstance(caught.value, CheckpointError)  # so every "checkpoint unusable" handler catches it
    assert_one_line(caught.value, "hf://OWNER/REPO/PATH.safetensors[@REVISION]")


def test_local_paths_never_import_huggingface_hub() -> None:
    """Start-up stays fast: vaegan.hub (imported by vaegan.checkpoint) imports the client only for an hf:// spec."""
    code = (
        "import sys, vaegan.hub as hub\n"
        "hub.resolve_checkpoint('checkpoints/vae.safetensors'); hub.resolve_folder('checkpoints')\n"
        "assert 'huggingface_hub' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)


# ------------------------------------------------------------------------------------------ downloading


def test_download_loads_with_the_same_checks_and_offline_uses_the_cache(
    hub_vae: tuple[FakeHub, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hub, content = hub_vae
    model = load_model("hf://alice/tiny/vae.safetensors", kind="vae")
    assert isinstance(model, VAE) and model.config == VAEConfig(latent_dim=4, hidden=16)
    heads, gets = hub.calls("HEAD"), [c for c in hub.calls("GET") if "/resolve/" in c[1]]
    assert [p for _, p, _ in heads] == ["/alice/tiny/resolve/main/vae.safetensors"]
    assert [p for _, p, _ in gets] == ["/alice/tiny/resolve/main/vae.safetensors"]
    assert "vaegan" in heads[0][2].get("user-agent", "")  # the client tells the Hub which library downloads
    cached = resolve_checkpoint("hf://alice/tiny/vae.safetensors")
    assert cached.read_bytes() == content and str(cached).startswith(str(tmp_path / "hf_cache"))
    assert read_info("hf://alice/tiny/nested/dir/vae.safetensors").steps == 3

    # The same self-describing checks as a local file: a wrong kind is refused.
    with pytest.raises(CheckpointError, match="holds a 'vae' model, expected 'wgan-generator'"):
        load_model("hf://alice/tiny/vae.safetensors", kind="wgan-generator")

    # Offline: the cached file loads and the Hub sees no request at all.
    go_offline(monkeypatch)
    before = len(hub.requests)
    assert load_model("hf://alice/tiny/vae.safetensors", kind="vae").config == model.config
    assert len(hub.requests) == before

    # Online but the Hub unreachable: huggingface_hub falls back to the cached file.
    go_online(monkeypatch)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert load_model("hf://alice/tiny/vae.safetensors", kind="vae").config == model.config


def test_an_uncached_file_offline_is_a_one_line_error_that_says_what_to_do(
    hub_vae: tuple[FakeHub, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, _ = hub_vae
    go_offline(monkeypatch)
    with pytest.raises(HubError) as caught:
        load_model("hf://alice/tiny/vae.safetensors", kind="vae")
    assert_one_line(caught.value, "hf://alice/tiny/vae.safetensors", "offline", "HF_HUB_OFFLINE", "unset")
    assert hub.requests == []


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("hf://alice/tiny/missing.safetensors", ["alice/tiny has no file missing.safetensors", "404"]),
        ("hf://alice/nope/vae.safetensors", ["no model repo alice/nope", "404", "hf auth login"]),
        ("hf://alice/tiny/vae.safetensors@v9", ["alice/tiny has no revision 'v9'", "404"]),
    ],
)
def test_hub_404s_are_one_line_errors(hub_vae: tuple[FakeHub, bytes], spec: str, fragments: list[str]) -> None:
    with pytest.raises(HubError) as caught:
        load_model(spec, kind="vae")
    assert_one_line(caught.value, *fragments)


def test_no_network_and_nothing_cached_is_a_one_line_error(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    # huggingface_hub retries a refused connection 5 times with 1-8 s back-off; the waits are skipped, the retries
    # still happen.
    monkeypatch.setattr(huggingface_hub.utils._http.time, "sleep", lambda seconds: None)
    with pytest.raises(HubError) as caught:
        load_model("hf://alice/tiny/vae.safetensors", kind="vae")
    assert_one_line(caught.value, "could not reach the Hub at http://127.0.0.1:", "not in the local cache")


def test_a_corrupt_file_on_the_hub_gets_the_local_corrupt_file_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.commit("alice/broken", {"vae.safetensors": tiny_vae_bytes(tmp_path)[:100]})
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_model("hf://alice/broken/vae.safetensors", kind="vae")


def test_a_revision_pins_the_file_of_that_commit(fake_hub: FakeHub, tmp_path: Path) -> None:
    old = fake_hub.commit("alice/tiny", {"vae.safetensors": tiny_vae_bytes(tmp_path / "a", steps=1)})
    fake_hub.commit("alice/tiny", {"vae.safetensors": tiny_vae_bytes(tmp_path / "b", steps=2)})
    assert read_info("hf://alice/tiny/vae.safetensors").steps == 2
    assert read_info(f"hf://alice/tiny/vae.safetensors@{old}").steps == 1


def test_the_cli_takes_hf_specs_and_reports_hub_failures_on_one_line(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = save_model(Generator(WGANConfig(latent_dim=8, width=4)), tmp_path / "wgan.safetensors")
    fake_hub.commit("alice/gan", {"wgan.safetensors": generator.read_bytes()})
    from cli import main

    out = tmp_path / "samples.png"
    assert main(["sample", "wgan", "--ckpt", "hf://alice/gan/wgan.safetensors", "--n", "4", "--out", str(out),
                 "--device", "cpu"]) == 0  # fmt: skip
    assert out.stat().st_size > 0
    capsys.readouterr()
    assert main(["sample", "wgan", "--ckpt", "hf://alice/gan/nope.safetensors", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "alice/gan has no file nope.safetensors" in err, err


def test_the_app_reads_its_checkpoint_folder_from_the_hub(fake_hub: FakeHub, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """VAEGAN_CHECKPOINTS=hf://OWNER/REPO: the Samples page draws from the generator stored in that repo."""
    from streamlit.testing.v1 import AppTest

    generator = save_model(Generator(WGANConfig(latent_dim=8, width=4)), tmp_path / "wgan.safetensors")
    fake_hub.commit("alice/app", {"wgan.safetensors": generator.read_bytes(), "README.md": b"# card"})
    monkeypatch.setenv("VAEGAN_CHECKPOINTS", "hf://alice/app")
    monkeypatch.setenv("VAEGAN_RESULTS", str(tmp_path / "no-results"))
    threads = torch.get_num_threads()
    try:
        at = AppTest.from_file(str(REPO_ROOT / "demo" / "Home.py"), default_timeout=120)
        at.switch_page("views/samples.py")
        at.run()
    finally:
        torch.set_num_threads(threads)  # the page sets the process's torch threads (see tests/test_app.py)
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.image) >= 1, "the Samples page shows no image"
    assert [p for m, p, _ in fake_hub.requests if m == "GET" and "/resolve/" in p] == [
        "/alice/app/resolve/" + fake_hub.repos["alice/app"].refs["main"] + "/wgan.safetensors"
    ]  # only the .safetensors files of the folder are downloaded


# ------------------------------------------------------------------------------------ model card and push


def front_matter(card: str) -> tuple[dict, str]:
    assert card.startswith("---\n"), card[:80]
    header, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def test_the_model_card_comes_from_the_header(tmp_path: Path) -> None:
    generator = Generator(WGANConfig(latent_dim=8, width=4))
    path = save_model(
        generator, tmp_path / "wgan.safetensors", dataset="mnist", steps=40, metrics={"fid": 12.5},
        extra={"train_config": {"n_critic": 5, "gp_weight": 10.0}, "commands": ["python cli.py train wgan --x 1"],
               "torch": "2.x"},
    )  # fmt: skip
    meta, body = front_matter(model_card(path, repo_id="alice/gan"))
    assert meta["library_name"] == "vaegan"
    assert {"gan", "wgan-gp", "pytorch", "safetensors", "mnist"} <= set(meta["tags"])
    assert meta["datasets"] == ["ylecun/mnist"] and meta["pipeline_tag"] == "unconditional-image-generation"
    assert 'load_model("hf://alice/gan/wgan.safetensors", kind="wgan-generator")' in body
    assert "vaegan sample wgan --ckpt hf://alice/gan/wgan.safetensors" in body
    assert 'generator = Generator.from_pretrained("alice/gan")' in body
    assert meta["license"] == "mit" and "## License" in body and "CC BY-SA 3.0" in body
    (index,) = meta["model-index"]  # the header's metrics, as the Hub reads a model's scores
    (result,) = index["results"]
    assert result["task"]["type"] == "unconditional-image-generation" and result["dataset"]["type"] == "ylecun/mnist"
    assert result["metrics"] == [{"type": "fid", "value": 12.5, "name": "fid (wgan.safetensors)"}]
    _, with_image = front_matter(model_card(path, images=["wgan_samples.png"]))
    assert "![16 samples of wgan.safetensors, seed 0](wgan_samples.png)" in with_image and "![" not in body
    for fragment in ("| `latent_dim` | 8 |", "| `steps` | 40 |", "| `gp_weight` | 10 |", "| `fid` | 12.5 |",
                     "python cli.py train wgan --x 1", "| `torch` | 2.x |"):  # fmt: skip
        assert fragment in body, fragment
    assert huggingface_hub.ModelCard(model_card(path)).data.library_name == "vaegan"  # the Hub's own parser


def test_the_model_card_of_the_shipped_checkpoints_parses() -> None:
    files = [REPO_ROOT / "checkpoints" / f"{name}.safetensors" for name in ("vae", "wgan", "classifier")]
    if not all(f.exists() for f in files):
        pytest.skip("shipped checkpoints not present")
    meta, body = front_matter(model_card(files, repo_id="alice/vaegan"))
    assert {"vae", "gan", "wgan-gp", "image-classification", "mnist"} <= set(meta["tags"])
    assert "datasets" not in meta  # local .npz files are not Hub datasets: named in the body only
    assert "../shared/data/binarized_mnist.npz" in body and "valid_neg_elbo" in body


def test_the_card_shown_in_the_docs_is_the_one_generated_today() -> None:
    files = [REPO_ROOT / "checkpoints" / f"{name}.safetensors" for name in ("vae", "wgan", "classifier")]
    if not all(f.exists() for f in files):
        pytest.skip("shipped checkpoints not present")
    card = model_card(files, repo_id="OWNER/vaegan-models")
    shown = (REPO_ROOT / "docs" / "generated" / "card_front_matter.yaml").read_text()
    assert card[4:].split("\n---\n", 1)[0].rstrip() + "\n" == shown
    meta = yaml.safe_load(shown)
    assert meta["license"] == "mit" and meta["model-index"][0]["name"] == "vaegan-models"
    scores = {m["type"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    assert scores == {"valid_neg_elbo", "holdout_accuracy"}  # held-out numbers only, no training losses


def test_push_creates_the_repo_commits_weights_and_card_and_the_result_loads(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    vae = save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), tmp_path / "vae.safetensors", steps=1)
    wgan = save_model(Generator(WGANConfig(latent_dim=8, width=4)), tmp_path / "wgan.safetensors")
    result = push([vae, wgan], "alice/pushed", private=True, token="hf_fake_token")
    repo = fake_hub.repos["alice/pushed"]
    assert repo.private
    files = repo.commits[repo.refs["main"]]
    assert sorted(files) == [".gitattributes", "README.md", "config.json", "vae.safetensors", "vae_samples.png",
                             "wgan.safetensors", "wgan_samples.png"]  # fmt: skip
    assert files["vae.safetensors"] == vae.read_bytes()
    meta, body = front_matter(files["README.md"].decode())
    assert meta["library_name"] == "vaegan" and meta["license"] == "mit"
    assert "(vae_samples.png)" in body and "(wgan_samples.png)" in body
    config = json.loads(files["config.json"])  # the file the Hub counts downloads by, and the loader reads first
    assert config["weights"] == "vae.safetensors" and config["kind"] == "vae" and config["config"]["latent_dim"] == 4
    assert {name: entry["kind"] for name, entry in config["files"].items()} == {
        "vae.safetensors": "vae", "wgan.safetensors": "wgan-generator"}  # fmt: skip
    from PIL import Image

    grid = Image.open(io.BytesIO(files["wgan_samples.png"]))
    assert grid.format == "PNG" and grid.size == (8 * 34 + 2, 2 * 34 + 2)  # 16 images of 32 px, 2 px padding
    assert result.specs == ("hf://alice/pushed/vae.safetensors", "hf://alice/pushed/wgan.safetensors")
    assert result.commit_url.endswith(repo.refs["main"])
    posts = [(p, h) for m, p, h in fake_hub.requests if m == "POST"]
    assert [p for p, _ in posts] == ["/api/repos/create", "/api/validate-yaml",
                                     "/api/models/alice/pushed/preupload/main", "/api/models/alice/pushed/commit/main"]
    assert all(h.get("authorization") == "Bearer hf_fake_token" for _, h in posts)
    assert isinstance(load_model(result.specs[1], kind="wgan-generator"), Generator)

    # By repo id, as Hugging Face libraries load: config.json says which file holds each kind.
    before = len(fake_hub.requests)
    by_id = VAE.from_pretrained("alice/pushed")
    assert isinstance(by_id, VAE) and by_id.checkpoint_info.kind == "vae"
    assert any(m == "GET" and p.endswith("/resolve/main/config.json") for m, p, _ in fake_hub.requests[before:])
    assert isinstance(Generator.from_pretrained("hf://alice/pushed"), Generator)
    assert read_info("hf://alice/pushed").kind == "vae"  # no kind asked: the repo's main weights
    with pytest.raises(HubError) as caught:
        DigitClassifier.from_pretrained("alice/pushed")
    assert_one_line(caught.value, "holds no 'digit-classifier' model", "vae.safetensors (vae)")

    # Again into the existing repo (create_repo answers 409, exist_ok): a second commit, the first still pinned.
    first = repo.refs["main"]
    save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), vae, steps=2)
    push(vae, "alice/pushed", token="hf_fake_token")
    assert repo.refs["main"] != first
    assert read_info("hf://alice/pushed/vae.safetensors").steps == 2
    assert read_info(f"hf://alice/pushed/vae.safetensors@{first}").steps == 1


def test_a_repo_id_without_a_vaegan_config_is_a_one_line_error(hub_vae: tuple[FakeHub, bytes]) -> None:
    with pytest.raises(HubError) as caught:
        VAE.from_pretrained("alice/tiny")
    assert_one_line(caught.value, "hf://alice/tiny has no config.json", "hf://OWNER/REPO/PATH.safetensors")
    assert isinstance(VAE.from_pretrained("hf://alice/tiny/vae.safetensors"), VAE)  # naming the file still works


def test_a_local_path_that_looks_like_a_repo_id_stays_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "alice").mkdir()
    save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), tmp_path / "alice" / "vae.safetensors")
    monkeypatch.chdir(tmp_path)
    assert isinstance(VAE.from_pretrained("alice/vae.safetensors"), VAE)  # a file name: never a repo id
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        VAE.from_pretrained("./alice/none.safetensors")


def test_push_checks_files_and_repo_before_sending_anything(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    vae = save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), tmp_path / "vae.safetensors")
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        push(tmp_path / "junk.safetensors", "alice/x")
    with pytest.raises(HubError, match="is not OWNER/NAME"):
        push(vae, "just-a-name")
    go_offline(monkeypatch)
    with pytest.raises(HubError, match="offline mode is on"):
        push(vae, "alice/x")
    assert fake_hub.requests == []


def test_a_refused_token_is_a_one_line_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    vae = save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), tmp_path / "vae.safetensors")
    with pytest.raises(HubError) as caught:
        push(vae, "alice/x", token="hf_refused")
    assert_one_line(caught.value, "the Hub refused to write to alice/x (401)", "hf auth login")
    assert "alice/x" not in fake_hub.repos


def test_cli_push_prints_the_specs_and_errors_on_one_line(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main

    vae = save_model(VAE(VAEConfig(latent_dim=4, hidden=16)), tmp_path / "vae.safetensors")
    assert main(["push", str(vae), "--repo", "alice/from-cli"]) == 0
    assert capsys.readouterr().out.split() == ["hf://alice/from-cli/vae.safetensors"]
    assert main(["push", str(tmp_path / "missing.safetensors"), "--repo", "alice/from-cli"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "no checkpoint" in err, err


def test_requirements_pin_huggingface_hub_with_a_range() -> None:
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    (line,) = [x for x in lines if x.lower().startswith("huggingface_hub")]
    assert ">=" in line and "<" in line, line
