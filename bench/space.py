"""The Space, built and run for real: build the image, run it as a Space runs it, drive every page in Chromium.

    python -m bench.space [--tag vaegan-space] [--no-build] [--base-image IMAGE] [--build-arg KEY=VALUE ...]
                          [--pip-cert CA.pem] [--serve DIR] [--docker PATH] [--out test-artifacts/space]

1. Builds the image from the repository's `Dockerfile` with BuildKit (`DOCKER_BUILDKIT=1`, `--network host`). With
   no options that is exactly what a Hugging Face Space builds (python:3.11-slim, CPU-only torch). `--base-image`,
   `--build-arg` and `--pip-cert` (passed as the build secret `pip_cert`, never written into a layer) override it
   for a machine without Docker Hub or the PyTorch index; `--serve DIR` serves a local folder on 127.0.0.1 during
   the build, and `@SERVED@` in a build argument becomes its URL (a folder of wheels, a simple index).
2. Runs the image's own `CMD` as a Space does: uid 1000, the whole root file system read-only (so the app folder
   is), a writable tmpfs `$HOME` (/home/user) and /tmp; with `--network host`, and `--server.port PORT
   --server.address 127.0.0.1` appended to the CMD (Click keeps the last value of a repeated option) so that it
   listens on loopback only, on a free port.
3. Waits for `/_stcore/health`: the time from `docker run` to healthy is the cold start a visitor of a sleeping
   Space waits for before the first byte of the app.
4. Opens every page of the app's own navigation (`st.Page` calls in demo/Home.py) in headless Chromium (Debian's
   /usr/bin/chromium, never a downloaded browser): no exception box or traceback, the page's charts and images
   drawn (each page has at least the counts in `EXPECTED`), then one interaction per page (`INTERACTIONS`: a
   slider, a button, a choice), after which the URL must show the new value and the page still no exception.
   A screenshot of each page goes to `--out`, before and after its interaction.
5. Stops and removes the container (also on failure or Ctrl-C).

Prints a table: the CPU, the image size, cold start to healthy, and per page the first render (navigation start to
the page's first chart or image drawn), the time until the page is complete (script finished, every chart and
image drawn), the counts, and the interaction's time. The pages are opened in the navigation's order in one
browser session, so the first page's times include the server's first `import torch` and model loads.

Exit status 0 when every page passed. `tests/test_container.py` runs the same check under pytest (`-m container`).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import http.server
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.test_browser import CHROMIUM_ARGS  # the browser test's flags: Debian's chromium, no outside traffic

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "test-artifacts" / "space"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 1000}

# The minimum number of Plotly charts and images each page draws with the shipped checkpoints and no test digits
# in the image (a Space has none until a visitor asks the VAE page to download them): read from the pages' code and
# checked against a run; a page that loses a chart or an image fails here rather than looking fine.
EXPECTED: dict[str, tuple[int, int]] = {
    "": (0, 1),  # Home: the strip of fresh WGAN samples (model cards are text)
    "divergences": (2, 0),  # the estimates over θ, the critic's heat map
    "dynamics": (2, 0),  # one animation per loss plus the W1 / θ panels
    "samples": (1, 3),  # the grid, the timeline frame and GIF; the digit counts (the shipped timeline has no scores)
    "latent": (2, 3),  # thumbnails, G(z), G(z + ε); the dims ranked by effect and by digit changes
    "interpolation": (1, 1),  # the animated GIF; the latent norm along the path
    "vae": (1, 2),  # prior samples, traversals (reconstructions need test digits); the KL per dim
    "compare": (0, 2),  # VAE and WGAN samples side by side (the scores need test digits)
}


@dataclass(frozen=True)
class Interaction:
    """One user action on a page: `kind` is "slider" (ArrowRight on the first slider inside `.st-key-{key}`),
    "button" (a click on the button inside it), "choice" (a click on the option labelled `label` inside it) or
    "link" (a click on the page link whose text contains `key`); afterwards the page's URL must contain
    `url_part` (the app binds its widgets to the query string)."""

    kind: str
    key: str
    url_part: str
    label: str = ""


INTERACTIONS: dict[str, Interaction] = {
    # Home has no input of its own: its interaction is the one a visitor makes there, following a page link.
    "": Interaction("link", "Samples", "samples"),
    "divergences": Interaction("slider", "theta", "theta="),
    "dynamics": Interaction("choice", "gen", "gen=mlp", label="mlp"),
    "samples": Interaction("button", "regenerate", "seed=1"),
    "latent": Interaction("slider", "eps_sliders", "eps"),
    "interpolation": Interaction("slider", "steps", "steps=10"),
    "vae": Interaction("slider", "n_samples", "n_samples=40"),
    "compare": Interaction("slider", "n", "n=36"),
}

# True once the page's first chart or image is drawn: "first render".
FIRST_DRAWN = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return false;
    if (main.querySelector('[data-testid="stPlotlyChart"] .main-svg')) return true;
    return [...main.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 0);
}"""
# True once the URL has changed from `before` and shows `part` (the widget's new value in the query string).
URL_CHANGED = "([part, before]) => location.href !== before && location.href.includes(part)"
# True once every chart has drawn its SVG and every image has loaded (tests/test_browser.py's DRAWN).
ALL_DRAWN = """() => {
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    const images = [...document.querySelectorAll('[data-testid="stMain"] img')];
    return charts.every(c => c.querySelector('.main-svg')) && images.every(i => i.complete && i.naturalWidth > 0);
}"""


# ------------------------------------------------------------------------------------------------ the pages


def app_pages() -> list[tuple[str, str]]:
    """(url path, title) of every st.Page in demo/Home.py's navigation, the default page as '' (parsed, not
    imported: importing the file would run Streamlit)."""
    tree = ast.parse((REPO_ROOT / "demo" / "Home.py").read_text())
    pages = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg in ("title", "url_path",
                                                                                            "default")}  # fmt: skip
            url = "" if keywords.get("default") else keywords.get("url_path", "")
            pages.append((url, keywords["title"]))
    if len(pages) < 2:
        raise RuntimeError("no st.Page found in demo/Home.py")
    return pages


# ------------------------------------------------------------------------------------------------- docker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_available(docker: str = "docker") -> str | None:
    """None when a Docker daemon answers, else why not (for a skip reason or an error)."""
    try:
        result = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                                timeout=20)  # fmt: skip
    except FileNotFoundError:
        return f"no `{docker}` command (install docker.io)"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 20 s"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [""])[-1]
        return f"no Docker daemon is running (`docker info` failed: {last})"
    return None


@contextlib.contextmanager
def serve_folder(folder: Path | None, port: int) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1:`port` until the block ends; yields its URL ('' for None). The port is
    fixed rather than free because the URL ends up in build arguments, which are part of BuildKit's cache key: a new
    port every run would re-install every dependency. A busy port falls back to a free one (and a cold cache)."""
    if folder is None:
        yield ""
        return
    handler = functools.partial(QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        pass  # pip fetches hundreds of files: their log lines would bury the build's own output


def build_image(args: argparse.Namespace) -> float:
    """`docker build` the repository with the options in `args`; returns the seconds it took."""
    with serve_folder(args.serve, args.serve_port) as served:
        command = [args.docker, "build", "--network", "host", "--progress", "plain", "-t", args.tag]
        build_args = list(args.build_arg)
        if args.base_image:
            build_args.append(f"BASE_IMAGE={args.base_image}")
        for build_arg in build_args:
            command += ["--build-arg", build_arg.replace("@SERVED@", served)]
        if args.pip_cert:
            command += ["--secret", f"id=pip_cert,src={Path(args.pip_cert).resolve()}"]
        command.append(str(REPO_ROOT))
        print("$", shlex.join(command), flush=True)
        start = time.monotonic()
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        with open(args.out / "build.log", "wb") as log:
            result = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            tail = (args.out / "build.log").read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(f"docker build failed (exit {result.returncode}); last lines of build.log:\n"
                               + "\n".join(tail))  # fmt: skip
        return time.monotonic() - start


def image_facts(docker: str, tag: str) -> tuple[int, list[str], str]:
    """(size in bytes, CMD, user) of the image."""
    out = subprocess.run([docker, "image", "inspect", tag], capture_output=True, text=True, check=True).stdout
    info = json.loads(out)[0]
    return int(info["Size"]), list(info["Config"]["Cmd"]), info["Config"].get("User", "")


@dataclass
class Container:
    name: str
    url: str
    started: float  # time.monotonic() just before `docker run`
    healthy_after: float = 0.0


@contextlib.contextmanager
def run_container(docker: str, tag: str, cmd: list[str], port: int) -> Iterator[Container]:
    """The image's CMD as a Space runs it (see the module docstring), removed when the block ends."""
    name = f"vaegan-space-check-{os.getpid()}"
    command = [
        docker, "run", "--detach", "--name", name, "--network", "host", "--no-healthcheck",
        "--user", "1000:1000", "--read-only",
        "--tmpfs", "/tmp:rw,mode=1777", "--tmpfs", "/home/user:rw,uid=1000,gid=1000,mode=0700",
        tag, *cmd, "--server.port", str(port), "--server.address", "127.0.0.1",
    ]  # fmt: skip
    print("$", shlex.join(command), flush=True)
    container = Container(name=name, url=f"http://127.0.0.1:{port}", started=time.monotonic())
    subprocess.run(command, check=True, capture_output=True, text=True)
    try:
        yield container
    finally:
        subprocess.run([docker, "rm", "--force", name], capture_output=True)


def wait_healthy(docker: str, container: Container, timeout: float = 180.0) -> float:
    """Seconds from `docker run` until /_stcore/health answers "ok"."""
    deadline = time.monotonic() + timeout
    # No proxy, whatever the environment says: the request must stay on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        try:
            with opener.open(f"{container.url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    container.healthy_after = time.monotonic() - container.started
                    return container.healthy_after
        except OSError:
            pass  # not listening yet
        if polls % 10:  # a `docker inspect` costs CPU that the starting server would otherwise get
            time.sleep(0.1)
            continue
        state = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", container.name],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        if state == "false":
            raise RuntimeError(f"the container exited before serving:\n{container_logs(docker, container)}")
        time.sleep(0.1)
    raise RuntimeError(f"not healthy within {timeout:.0f}s:\n{container_logs(docker, container)}")


def container_logs(docker: str, container: Container) -> str:
    return subprocess.run([docker, "logs", container.name], capture_output=True, text=True).stdout[-4000:]


# ------------------------------------------------------------------------------------------------ browser


@dataclass
class PageResult:
    path: str
    title: str
    first_render: float = float("nan")  # s, navigation start -> first chart or image drawn
    complete: float = float("nan")  # s, navigation start -> script finished and everything drawn
    charts: int = 0
    images: int = 0
    interaction: str = ""
    interaction_time: float = float("nan")  # s, the action -> the page complete again
    url_after: str = ""  # the page and query string after the interaction
    problems: list[str] = field(default_factory=list)


def wait_complete(page, timeout: float) -> float:  # noqa: ANN001 - a playwright Page
    """Block until the script has finished and every chart and image is drawn, steadily for 0.5 s; returns the
    time.monotonic() at which that quiet state began (the 0.5 s of watching is not counted)."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        busy = state != "notRunning" or page.locator('[data-testid="stAppSkeleton"]').count() > 0
        if busy or not page.evaluate(ALL_DRAWN):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:  # a rerun starts within a few hundred ms of a change
            return quiet_since
        page.wait_for_timeout(50)
    raise TimeoutError(f"{page.url} was still running after {timeout:.0f}s")


def page_problems(page, title: str) -> list[str]:  # noqa: ANN001 - a playwright Page
    """What a visitor should never see: an exception box, a traceback, a checkpoint that failed to load, or a page
    without the app's navigation."""
    problems = []
    exceptions = page.locator('[data-testid="stException"]')
    if exceptions.count():
        problems.append(f"exception: {exceptions.first.inner_text()[:500]}")
    alerts = page.locator('[data-testid="stAlertContainer"]')
    if alerts.filter(has_text="Traceback").count():
        problems.append("a traceback is shown")
    if alerts.filter(has_text="could not be loaded").count():
        problems.append("a checkpoint could not be loaded")
    if page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).count() != 1:
        problems.append(f"the navigation lacks {title!r}")
    return problems


def count_drawn(page) -> tuple[int, int]:  # noqa: ANN001 - a playwright Page
    charts = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').count()
    images = page.locator('[data-testid="stMain"] img').count()
    return charts, images


def screenshot(page, path: Path) -> None:  # noqa: ANN001 - a playwright Page
    """The whole page: Streamlit scrolls inside its main container, so grow the viewport to its height first."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(500)  # charts redraw for the new size
    page.wait_for_function(ALL_DRAWN, timeout=30_000)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def interact(page, action: Interaction) -> None:  # noqa: ANN001 - a playwright Page
    scope = page.locator(f".st-key-{action.key}")
    if action.kind == "slider":
        thumb = scope.get_by_role("slider").first
        thumb.focus()
        page.keyboard.press("ArrowRight")
    elif action.kind == "button":
        scope.get_by_role("button").first.click()
    elif action.kind == "choice":
        scope.get_by_text(action.label, exact=True).first.click()
    elif action.kind == "link":
        page.locator('[data-testid="stMain"] [data-testid="stPageLink"]').get_by_text(action.key).first.click()
    else:
        raise ValueError(f"unknown interaction kind {action.kind!r}")


def drive_pages(url: str, out: Path, timeout: float) -> list[PageResult]:
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            for path, title in app_pages():
                result = PageResult(path=path, title=title)
                results.append(result)
                name = path or "home"
                try:
                    start = time.monotonic()
                    page.goto(f"{url}/{path}", wait_until="commit")
                    page.wait_for_function(FIRST_DRAWN, polling=50, timeout=timeout * 1000)
                    result.first_render = time.monotonic() - start
                    result.complete = wait_complete(page, timeout) - start
                    result.charts, result.images = count_drawn(page)
                    result.problems += page_problems(page, title)
                    want_charts, want_images = EXPECTED.get(path, (1, 1))
                    if result.charts < want_charts or result.images < want_images:
                        result.problems.append(f"{result.charts} charts / {result.images} images, expected at "
                                               f"least {want_charts} / {want_images}")  # fmt: skip
                    screenshot(page, out / f"{name}.png")

                    action = INTERACTIONS.get(path)
                    if action is None:
                        result.problems.append("no interaction defined for this page (bench/space.py INTERACTIONS)")
                        continue
                    result.interaction = f"{action.kind} {action.label or action.key}"
                    before = page.url
                    start = time.monotonic()
                    interact(page, action)
                    page.wait_for_function(URL_CHANGED, arg=[action.url_part, before], timeout=timeout * 1000)
                    result.interaction_time = wait_complete(page, timeout) - start
                    result.url_after = page.url.split("/", 3)[-1]
                    # A link leads to another page, whose own title the navigation check needs.
                    result.problems += [p for p in page_problems(page, title) if action.kind != "link"
                                        or not p.startswith("the navigation")]  # fmt: skip
                    screenshot(page, out / f"{name}_after.png")
                except Exception as exc:  # noqa: BLE001 - recorded per page, so one broken page shows them all
                    result.problems.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(out / f"{name}_failed.png"))
        finally:
            browser.close()
    return results


# ------------------------------------------------------------------------------------------------- report


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def table(size: int, healthy: float, results: list[PageResult], tag: str) -> str:
    lines = [
        f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs visible)",
        f"image {tag}: {size / 1e9:.2f} GB ({size / 2**30:.2f} GiB), `docker image inspect` Size",
        f"docker run -> /_stcore/health ok: {healthy:.1f} s",
        "",
        "| page | first render (s) | complete (s) | charts | images | interaction -> URL | after it (s) | problems |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in results:
        problems = "; ".join(r.problems) or "none"
        lines.append(f"| {r.title} (/{r.path}) | {r.first_render:.1f} | {r.complete:.1f} | {r.charts} | {r.images} "
                     f"| {r.interaction} -> `/{r.url_after}` | {r.interaction_time:.1f} | {problems} |")  # fmt: skip
    return "\n".join(lines)


@dataclass
class CheckResult:
    size: int
    healthy: float
    pages: list[PageResult]
    report: str

    @property
    def ok(self) -> bool:
        return all(not p.problems for p in self.pages)


def run_check(args: argparse.Namespace) -> CheckResult:
    args.out.mkdir(parents=True, exist_ok=True)
    if reason := docker_available(args.docker):
        raise RuntimeError(reason)
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing (apt-get install chromium); no browser is downloaded")
    if args.build:
        print(f"built in {build_image(args):.0f} s (build log: {args.out / 'build.log'})", flush=True)
    size, cmd, user = image_facts(args.docker, args.tag)
    if user not in ("user", "1000", "1000:1000"):
        raise RuntimeError(f"the image runs as {user!r}, not as uid 1000 like a Space")
    with run_container(args.docker, args.tag, cmd, args.port or free_port()) as container:
        try:
            healthy = wait_healthy(args.docker, container)
            pages = drive_pages(container.url, args.out, args.timeout)
        finally:
            (args.out / "container.log").write_text(container_logs(args.docker, container))
    report = table(size, healthy, pages, args.tag)
    (args.out / "table.md").write_text(report + "\n")
    return CheckResult(size=size, healthy=healthy, pages=pages, report=report)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.space", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--tag", default="vaegan-space", help="the image's name (default: vaegan-space)")
    p.add_argument("--no-build", dest="build", action="store_false", help="use the image as it is")
    p.add_argument("--base-image", help="the BASE_IMAGE build argument (default: the Dockerfile's python:3.11-slim)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to docker build; @SERVED@ becomes the URL of --serve")  # fmt: skip
    p.add_argument("--pip-cert", help="a CA bundle for pip inside the build (the build secret pip_cert)")
    p.add_argument("--serve", type=Path, help="a folder served on 127.0.0.1 during the build (local wheels)")
    p.add_argument("--serve-port", type=int, default=38765, help="its port on 127.0.0.1 (default 38765)")
    p.add_argument("--docker", default=os.environ.get("DOCKER", "docker"),
                   help="the docker CLI (default: $DOCKER or docker); it must support BuildKit builds")  # fmt: skip
    p.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per page step (default 180)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"screenshots and logs (default {DEFAULT_OUT})")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = run_check(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report)
    print(f"\nscreenshots and logs: {args.out}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
