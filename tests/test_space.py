"""The Hugging Face Space: what a `git push` or `hf upload` sends, and the container's command run as the Space runs it.

There is no Docker daemon here, so the container test rebuilds what matters about the image by reading the
`Dockerfile` itself: the files its `COPY` lines take from the build context (honouring `.dockerignore`) go into a
temporary folder that is then made read-only, and its exact `CMD` runs there (the `WORKDIR`) as the unprivileged
user `nobody`, with the `ENV` of the Dockerfile, `HOME` pointing at a fresh writable folder and the venv's `bin/`
first on `PATH` (its `streamlit` stands for the image's). Only the port and the bind address are overridden, by
appending `--server.port PORT --server.address 127.0.0.1` (Click keeps the last value of a repeated option): a free
port, and loopback rather than the image's 0.0.0.0 so the test listens on no outside interface. Then chromium opens
every page of the app's own navigation (parsed from `demo/Home.py`), none may show an exception, and afterwards no
file owned by `nobody` may exist outside HOME and /tmp.

The venv's Python lives under /root here (pyenv), which `nobody` cannot enter. The server therefore starts in a
private mount namespace (`unshare -m`) where each such unreadable folder is covered by an empty read-only-for-
`nobody` tmpfs and only the Python installation and the venv are bind-mounted back at their own paths; nothing else
of /root becomes visible, and the host's mounts are untouched.

Chromium missing: skip, except under CI (see tests/test_browser.py). Not root, or no unshare: skip with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.space import app_pages
from tests.test_browser import (
    DRAWN,
    assert_no_exception,
    chromium_path,
    free_port,
    launch_chromium,
    sync_playwright,
    wait_for_health,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
NOBODY = 65534

# Extensions that are binary whatever their first bytes look like (an fp16 tensor can start without a NUL).
BINARY_EXTENSIONS = {
    ".safetensors", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".npz", ".npy", ".pt", ".pth", ".ckpt", ".bin",
    ".pkl", ".zip", ".gz", ".tar", ".h5", ".onnx", ".parquet", ".arrow", ".whl", ".so",
}  # fmt: skip


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout


# ----------------------------------------------------------------------------------------------- git LFS


def is_binary(path: Path) -> bool:
    """git's own test (a NUL byte in the first 8000 bytes), plus the extensions that are binary by nature."""
    if path.suffix.lower() in BINARY_EXTENSIONS:
        return True
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)


def test_every_tracked_binary_file_goes_through_git_lfs() -> None:
    """The Hub refuses a `git push` of binary files that are not in LFS: .gitattributes must cover each of them."""
    files = [f for f in git("ls-files", "-z").split("\0") if f and (REPO_ROOT / f).is_file()]
    binaries = [f for f in files if is_binary(REPO_ROOT / f)]
    assert any(f.endswith(".safetensors") for f in binaries), "the shipped checkpoints should be among them"
    out = git("check-attr", "-z", "filter", "diff", "merge", "text", "--", *binaries).split("\0")
    attrs: dict[str, dict[str, str]] = {}
    for path, name, value in zip(out[0::3], out[1::3], out[2::3], strict=False):
        attrs.setdefault(path, {})[name] = value
    wrong = {f: attrs.get(f) for f in binaries if attrs.get(f) != {"filter": "lfs", "diff": "lfs", "merge": "lfs",
                                                                     "text": "unset"}}  # fmt: skip
    assert not wrong, f"binary files without `filter=lfs diff=lfs merge=lfs -text` in .gitattributes: {wrong}"


# --------------------------------------------------------------------------------------- the Dockerfile


@dataclass
class Dockerfile:
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination)
    cmd: list[str] = field(default_factory=list)


def parse_dockerfile(text: str) -> Dockerfile:
    """The instructions this test needs (WORKDIR, ENV, COPY, CMD) of a single-stage Dockerfile; others are ignored,
    and a form this parser does not handle fails loudly rather than testing something else."""
    result = Dockerfile()
    logical = re.sub(r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    for line in logical.splitlines():
        if not line.strip():
            continue
        instruction, _, args = line.strip().partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM" and result.copies:
            pytest.fail("multi-stage Dockerfile: this test reads a single stage")
        elif instruction == "WORKDIR":
            result.workdir = os.path.join(result.workdir, args)
        elif instruction == "ENV":
            words = shlex.split(args)
            if words and "=" not in words[0]:  # the legacy `ENV KEY value` form
                result.env[words[0]] = " ".join(words[1:])
            else:
                result.env.update(word.split("=", 1) for word in words)
        elif instruction == "COPY":
            words = [w for w in shlex.split(args) if not w.startswith("--chown=") and not w.startswith("--chmod=")]
            if any(w.startswith("--") for w in words) or any(ch in "".join(words) for ch in "*?["):
                pytest.fail(f"COPY form not handled by this test: {line.strip()}")
            result.copies.append((words[:-1], words[-1]))
        elif instruction == "CMD":
            if not args.startswith("["):
                pytest.fail("CMD is in shell form; the test expects the exec (JSON) form the Space runs")
            result.cmd = json.loads(args)
    return result


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per line of .dockerignore, with Docker's semantics: patterns are relative to the
    context root, `*` and `?` stay within one path segment, `**` spans any number of segments, `!` re-includes."""
    rules = []
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negate, re.compile(f"^{regex}$")))
    return rules


def docker_context() -> list[str]:
    """Every file `docker build .` would send, as paths relative to the repository root: a pattern that matches a
    file or any folder above it excludes it (Docker's MatchesOrParentMatches), the last matching rule winning."""
    rules = dockerignore_patterns()

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        verdict = False
        for negate, regex in rules:
            if any(regex.match(p) for p in prefixes):
                verdict = not negate
        return verdict

    files = []
    for folder, dirs, names in os.walk(REPO_ROOT):
        rel_folder = os.path.relpath(folder, REPO_ROOT)
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        # Pruning an excluded folder is safe while no rule re-includes something inside it (none does here).
        if not any(negate for negate, _ in rules):
            dirs[:] = [d for d in dirs if not excluded(rel_folder + d)]
        files += [rel_folder + n for n in names if not excluded(rel_folder + n)]
    return sorted(files)


def build_app_folder(dockerfile: Dockerfile, root: Path) -> Path:
    """The image's WORKDIR as the COPY lines fill it, under `root` (Docker's rules: a folder source copies its
    contents; a file source goes into a destination folder, or becomes the destination file)."""
    workdir = root / dockerfile.workdir.lstrip("/")
    workdir.mkdir(parents=True)
    context = docker_context()
    for sources, destination in dockerfile.copies:
        target = root / os.path.join(dockerfile.workdir, destination).lstrip("/")
        for source in (os.path.normpath(s) for s in sources):
            if source == "." or (REPO_ROOT / source).is_dir():
                prefix = "" if source == "." else source + "/"
                pairs = [(f, target / f[len(prefix) :]) for f in context if f.startswith(prefix)]
            else:
                into_folder = destination.endswith("/") or destination == "." or target.is_dir()
                pairs = [(source, target / Path(source).name if into_folder else target)]
            assert pairs and all(rel in context for rel, _ in pairs), f"COPY {source}: not in the build context"
            for rel, dest in pairs:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / rel, dest)
    return workdir


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        path.chmod(0o555 if stat.S_ISDIR(mode) else (0o555 if mode & 0o111 else 0o444))


# ------------------------------------------------------------------------ running as nobody, in a namespace


def traversable_by_others(path: Path) -> bool:
    """Whether an unprivileged user that owns nothing can reach `path` (every folder above it has o+x)."""
    for folder in [*reversed(path.parents), path]:
        try:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def namespace_script(needed: list[Path]) -> str:
    """A shell script for `unshare -m`: over each folder nobody cannot enter, an empty tmpfs; the needed paths inside
    it bind-mounted back where they were. Only root can write there, so nobody still cannot."""
    blocked: dict[Path, list[Path]] = {}
    for path in needed:
        if traversable_by_others(path) or any(other in path.parents for other in needed):
            continue  # reachable already, or inside another needed path that is mounted back whole
        top = next(f for f in [*reversed(path.parents), path] if f.is_dir() and not f.stat().st_mode & stat.S_IXOTH)
        blocked.setdefault(top, []).append(path)
    lines = ["set -e", "stash=$(mktemp -d)"]
    index = 0
    for top, paths in blocked.items():
        for i, path in enumerate(paths):
            lines += [f"mkdir $stash/{index + i}", f"mount --bind {shlex.quote(str(path))} $stash/{index + i}"]
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m vaegan-test {shlex.quote(str(top))}")
        for i, path in enumerate(paths):
            lines += [f"mkdir -p {shlex.quote(str(path))}", f"mount --move $stash/{index + i} {shlex.quote(str(path))}"]
        index += len(paths)
    lines.append('rmdir "$stash"/* "$stash" 2>/dev/null || true')  # the stash lives on the real /tmp
    lines.append('exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$@"')
    return "\n".join(lines)


def files_of_nobody() -> set[str]:
    """Every file and folder owned by nobody on this machine's disks, except under /tmp (and /proc, /sys)."""
    command = ["find", "/", "-xdev", "(", "-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/tmp", ")",
               "-prune", "-o", "-uid", str(NOBODY), "-print"]  # fmt: skip
    found = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout.split("\n")
    shm = subprocess.run(["find", "/dev/shm", "-uid", str(NOBODY)], capture_output=True, text=True).stdout.split("\n")
    return {f for f in found + shm if f}


@dataclass
class Space:
    url: str
    home: Path
    app: Path
    log: Path
    peak_rss: str = ""


@contextlib.contextmanager
def run_space_command(root: Path) -> Iterator[Space]:
    """Build the app folder under `root` and run the Dockerfile's CMD there as nobody until the block ends."""
    dockerfile = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    assert dockerfile.cmd[:2] == ["streamlit", "run"], dockerfile.cmd
    app = build_app_folder(dockerfile, root / "image")
    home = root / "home"
    home.mkdir(mode=0o700)
    os.chown(home, NOBODY, NOBODY)
    make_read_only(root / "image")
    port = free_port()
    env = {
        **dockerfile.env,
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",  # the venv's streamlit first
        "LANG": "C.UTF-8",
    }
    command = [*dockerfile.cmd, "--server.port", str(port), "--server.address", "127.0.0.1"]
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent]
    space = Space(url=f"http://127.0.0.1:{port}", home=home, app=app, log=root / "streamlit.log")
    with open(space.log, "wb") as log:
        # `unshare` execs sh, which execs setpriv, which execs streamlit: one process, this pid.
        process = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", namespace_script(needed), "vaegan-space", *command],
            cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            try:
                wait_for_health(space.url, process, timeout=60)
            except RuntimeError as exc:
                pytest.fail(f"{exc}\n--- server log ---\n{space.log.read_text(errors='replace')}")
            yield space
            status = Path(f"/proc/{process.pid}/status").read_text()
            space.peak_rss = next((ln.split(":", 1)[1].strip() for ln in status.splitlines() if "VmHWM" in ln), "")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_idle(page, timeout: float = 60.0) -> None:  # noqa: ANN001 - a playwright Page
    """Until a heading is on screen and the script has finished with every chart and image drawn, for 0.5 s."""
    page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=timeout * 1000)
    deadline, quiet_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        if state != "notRunning" or page.locator('[data-testid="stAppSkeleton"]').count() or not page.evaluate(DRAWN):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{page.url} was still running after {timeout:.0f}s")


def test_the_container_command_serves_every_page_as_nobody_from_a_read_only_folder() -> None:
    chromium_path()  # skips (or fails under CI) before anything expensive
    browser_session = sync_playwright()  # the same for the playwright package
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the container's command as the unprivileged user nobody")
    for tool in ("setpriv", "unshare", "find"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (util-linux / findutils)")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m is not permitted here (the server starts in a private mount namespace)")
    pages = app_pages()
    ARTIFACTS.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vaegan-space-"))  # in /tmp itself: pytest's tmp_path is root-only (0700)
    root.chmod(0o755)
    before = files_of_nobody()
    try:
        with run_space_command(root) as space, browser_session as playwright:
            assert space.app.stat().st_mode & 0o222 == 0  # read-only for everyone (nobody is not root)
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for url_path, title in pages:
                page.goto(f"{space.url}/{url_path}")
                wait_idle(page)
                assert_no_exception(page, title)
                navigation = page.locator('[data-testid="stSidebarNav"]')
                missing = [t for _, t in pages if navigation.get_by_text(t, exact=True).count() != 1]
                assert not missing, f"{title}: the menu lacks {missing}"
                alerts = page.locator('[data-testid="stAlertContainer"]')
                assert alerts.filter(has_text="Traceback").count() == 0, f"{title}: a traceback is shown"
                assert alerts.filter(has_text="could not be loaded").count() == 0, f"{title}: a checkpoint failed"
            page.goto(space.url)
            wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "space_home.png"))
            browser.close()
        written = sorted(files_of_nobody() - before)
        assert not written, f"the app wrote outside HOME and /tmp: {written[:20]}"
        in_home = sorted(str(p.relative_to(space.home)) for p in space.home.rglob("*"))
        print(f"peak RSS of the server {space.peak_rss}; written to HOME: {in_home[:20]}")
    finally:
        for path in [root, *root.rglob("*")]:  # give the write bits back so that the folder can be removed
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------------ the Space's upload


def upload_excludes() -> list[str]:
    """The --exclude patterns of the `hf upload` command in docs/space.md (the page that says how to deploy)."""
    text = (REPO_ROOT / "docs" / "space.md").read_text()
    match = re.search(r"^hf upload .*?(?<!\\)$", text, flags=re.M | re.S)
    assert match, "docs/space.md has no `hf upload` command"
    words = shlex.split(match.group(0).replace("\\\n", " "))
    assert "--repo-type" in words and words[words.index("--repo-type") + 1] == "space", words
    return [words[i + 1] for i, w in enumerate(words) if w == "--exclude"]


def test_the_documented_upload_sends_the_build_context_plus_the_dockerfile() -> None:
    """`hf upload . --exclude ...` (docs/space.md) sends what `docker build` would use, plus the Dockerfile itself;
    checked with huggingface_hub's own matcher on the tracked files plus the usual local clutter."""
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    clutter = [".venv/bin/python", "runs/wgan/state.safetensors", "vaegan/__pycache__/hub.cpython-311.pyc",
               ".pytest_cache/README.md", "test-artifacts/space/home.png", "data/mnist.npz", "x.part",
               "site/index.html", ".hypothesis/examples/x", ".mypy_cache/x.json", "build/lib/vaegan/__init__.py",
               "dist/vaegan-0.1.0.tar.gz", "vaegan.egg-info/PKG-INFO"]  # fmt: skip
    candidates = [f for f in git("ls-files").splitlines() if f] + clutter
    uploaded = set(filter_repo_objects(candidates, ignore_patterns=upload_excludes() + DEFAULT_IGNORE_PATTERNS))
    context_rules = dockerignore_patterns()

    def in_context(rel: str) -> bool:
        parts = rel.split("/")
        verdict = False
        for negate, regex in context_rules:
            if any(regex.match("/".join(parts[: i + 1])) for i in range(len(parts))):
                verdict = not negate
        return not verdict

    expected = {f for f in candidates if in_context(f)} | {"Dockerfile", ".dockerignore"}
    assert uploaded == expected, (sorted(uploaded - expected), sorted(expected - uploaded))
    assert {"README.md", ".gitattributes", "LICENSE", "checkpoints/wgan.safetensors"} <= uploaded
    assert not any(f.startswith(("tests/", "bench/", "site/")) for f in uploaded)


# ----------------------------------------------------------------------------------------- the Space card


def test_the_space_card_front_matter_has_what_the_hub_shows_within_its_limits() -> None:
    """README.md's YAML block is the Space's configuration: parsed by huggingface_hub's own SpaceCard, it has the
    docker SDK on the Dockerfile's port, a short_description that fits the Hub's 60 characters, the license of
    LICENSE and pyproject.toml, tags, and `models:` (the link from the Space to its weights) as real repo ids."""
    import tomllib

    from huggingface_hub import SpaceCard

    data = SpaceCard.load(REPO_ROOT / "README.md").data.to_dict()
    assert data["sdk"] == "docker"
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {data['app_port']}" in dockerfile and f'"--server.port", "{data["app_port"]}"' in dockerfile
    assert data["colorFrom"] in SPACE_COLORS and data["colorTo"] in SPACE_COLORS, (data["colorFrom"], data["colorTo"])

    description = data["short_description"]
    assert isinstance(description, str) and 0 < len(description) <= 60, (len(description), description)

    assert data["license"] == "mit"  # the Hub's license identifier for MIT
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]

    tags = data["tags"]
    assert isinstance(tags, list) and tags and all(isinstance(t, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", t)
                                                   for t in tags), tags  # fmt: skip
    assert len(set(tags)) == len(tags) and {"vae", "gan"} <= set(tags)

    models = data["models"]
    assert isinstance(models, list) and models, models
    for repo_id in models:
        assert re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", repo_id), repo_id
        assert "OWNER" not in repo_id and "REPO" not in repo_id, f"a placeholder in models: {repo_id}"


SPACE_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
