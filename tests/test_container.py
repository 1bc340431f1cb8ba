"""The Space's image, built and run for real: bench/space.py's check under pytest.

    pytest -m container                       # the Dockerfile's defaults (Docker Hub's python:3.11-slim, CPU torch)
    VAEGAN_SPACE_ARGS="--base-image ... --build-arg ..." pytest -m container   # bench/space.py's options

It builds the image, runs it as uid 1000 from a read-only root file system with a tmpfs $HOME, waits for
/_stcore/health and drives every page of the app in Debian's chromium (see bench/space.py). That takes minutes and
a Docker daemon, so it runs only when both hold: without a daemon (CI starts none) it skips saying so, and with one
it still skips unless selected with `-m container`, so that a plain `pytest` on a machine that happens to run
dockerd does not start a multi-gigabyte build. Screenshots and the table go to test-artifacts/space/.
"""

from __future__ import annotations

import os
import re
import shlex

import pytest

from bench import space

pytestmark = pytest.mark.container


def selected_explicitly(config: pytest.Config) -> bool:
    """Whether -m names the container marker without negating it (`-m container`, `-m "container or slow"`)."""
    expression = config.getoption("markexpr") or ""
    return re.search(r"(?<!not )\bcontainer\b", expression) is not None


def test_the_image_serves_every_page_as_uid_1000_from_a_read_only_root(request: pytest.FixtureRequest) -> None:
    args = space.parser().parse_args(shlex.split(os.environ.get("VAEGAN_SPACE_ARGS", "")))
    if reason := space.docker_available(args.docker):
        pytest.skip(f"{reason}: the container check needs a Docker daemon (docs/space.md)")
    if not selected_explicitly(request.config):
        pytest.skip("builds the image and drives it in Chromium for minutes: select it with `pytest -m container` "
                    "or run `python -m bench.space`")  # fmt: skip
    if not os.path.exists(space.CHROMIUM):
        pytest.skip(f"{space.CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright", reason="the playwright package is not installed (pip install -e '.[dev]')")
    result = space.run_check(args)
    print(result.report)
    assert result.ok, f"pages with problems (screenshots in {args.out}):\n{result.report}"
    assert result.healthy < 120, f"docker run -> healthy took {result.healthy:.0f} s"
