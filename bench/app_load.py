"""Concurrent sessions against one `streamlit run` server: the server time of a latent ε-slider move with N sessions.

    python -m bench.app_load [--sessions 1,10,20] [--moves 10] [--think 0.5:1.5] [--burst]

One server (`streamlit run demo/Home.py`, as `make demo` starts it, bound to 127.0.0.1 on a free port) and N real
sessions. Each session is a client of Streamlit's own websocket protocol (`/_stcore/stream`, protobuf `BackMsg` /
`ForwardMsg`), doing what the browser does: it asks for the Latent space page (`rerun_script` with the page's
name), receives the page's elements, finds the first ε slider among them, and then moves that slider `--moves`
times: a `rerun_script` carrying the slider's new value, as the browser sends when a slider is released. The time
of a move is from sending that message to receiving the server's `script_finished` for the rerun: the server's
time (script, caches, serialising every element) plus loopback, and no browser rendering. Between moves a session
waits a random think time (`--think`, seconds); `--burst` drops it, so every session fires its next move as soon as
the last one finished (the worst case).

Reported per N: moves, errors (a page exception or `st.error` element, a rerun that did not finish, a dropped
connection), the move times' p50 / p95 / max over all sessions and the worst single session's p95, the server's
resident memory (peak during the phase), the machine's load average (how busy it was) and the server's CPU time
per page run (page loads and moves of the phase together): the cost that decides how many sessions a free core
can serve, whatever else the machine is doing.

Models: the shipped checkpoints/ when present, else full-size random-weight ones (bench/app.py's `model_folders`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

from bench.app import free_port, model_folders  # noqa: E402

PAGE = "latent"  # the page's url_path in demo/Home.py
SLIDER_LABEL = "ε for dim"
RUN_TIMEOUT = 120.0  # seconds a slider rerun may take before it counts as an error
LOAD_TIMEOUT = 900.0  # ... and a page load (the warm-up's first one imports torch and fills every cache)


# ------------------------------------------------------------------------------------------------- client


@dataclass
class Session:
    """One websocket session, speaking Streamlit's protocol the way the browser does."""

    index: int
    url: str
    ws: object = None
    page_script_hash: str = ""
    query_string: str = ""
    slider_id: str = ""
    errors: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _finished: asyncio.Event = field(default_factory=asyncio.Event)
    _status: int = -1

    async def connect(self) -> None:
        import websockets

        host = self.url.removeprefix("http://")
        self.ws = await websockets.connect(
            f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], max_size=None, origin=self.url,
            open_timeout=RUN_TIMEOUT, ping_interval=None,  # no keep-alive pings: a busy server answers them late
        )  # fmt: skip
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    self.page_script_hash = msg.new_session.page_script_hash or self.page_script_hash
                elif kind == "page_info_changed":
                    self.query_string = msg.page_info_changed.query_string
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    self._element(msg.delta.new_element)
                elif kind == "script_finished":
                    self._status = msg.script_finished
                    self._finished.set()
        except Exception as exc:  # a dropped connection is an error of this session, not of the bench
            self.errors.append(f"connection: {type(exc).__name__} {exc}")
            self._finished.set()

    def _element(self, element: object) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.errors.append(f"exception: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format == element.alert.ERROR:
            self.errors.append(f"st.error: {element.alert.body[:200]}")
        elif kind == "slider" and element.slider.label.startswith(SLIDER_LABEL) and not self.slider_id:
            self.slider_id = element.slider.id

    async def rerun(self, slider_value: float | None = None) -> float:
        """Send one rerun (the first page load, or a slider move) and wait for its script_finished: seconds."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_name = PAGE
        state.page_script_hash = self.page_script_hash
        if slider_value is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self.slider_id
            widget.double_array_value.data.append(slider_value)  # a slider's value is an array, even of one
        self._finished.clear()
        self._status = -1
        timeout = RUN_TIMEOUT if slider_value is not None else LOAD_TIMEOUT
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        try:
            await asyncio.wait_for(self._finished.wait(), timeout)
        except TimeoutError:
            self.errors.append(f"a rerun did not finish within {timeout:.0f} s")
            return float("nan")
        seconds = time.perf_counter() - started
        if self._status != ForwardMsg.FINISHED_SUCCESSFULLY:
            self.errors.append(f"script finished with status {self._status}")
        return seconds


async def run_sessions(url: str, n: int, moves: int, think: tuple[float, float]) -> list[Session]:
    sessions = [Session(i, url) for i in range(n)]

    async def one(session: Session) -> None:
        rng = random.Random(session.index)
        try:
            await session.connect()
            await session.rerun()  # the page load
            if not session.slider_id:
                session.errors.append("no ε slider on the page")
                return
            for k in range(moves):
                await asyncio.sleep(rng.uniform(*think))
                value = 0.25 * (k % 8 + 1) * (-1) ** (k + session.index)
                session.times.append(await session.rerun(value))
        except Exception as exc:
            session.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            if session.ws is not None:
                await session.ws.close()

    await asyncio.gather(*(one(s) for s in sessions))
    return sessions


# ------------------------------------------------------------------------------------------------- server


class RssSampler(threading.Thread):
    """Peak resident memory of a process (from /proc), sampled every 0.2 s until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def current(self) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all its threads)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.current())

    def stop(self) -> None:
        self._stop.set()


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 300.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,10,20", help="Comma list of concurrent session counts.")
    parser.add_argument("--moves", type=int, default=10, help="Slider moves per session.")
    parser.add_argument("--think", default="0.5:1.5", help="Think time between a session's moves, lo:hi seconds.")
    parser.add_argument("--burst", action="store_true", help="No think time: every session moves back to back.")
    args = parser.parse_args()
    counts = [int(n) for n in args.sessions.split(",")]
    think = (0.0, 0.0) if args.burst else tuple(float(t) for t in args.think.split(":"))

    env, description = model_folders()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "demo/Home.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    load_before = os.getloadavg()
    print(f"models: {description}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} (1 min) when the bench started")
    print(f"each session: open the {PAGE} page, then {args.moves} ε-slider moves, think time "
          f"{'none (burst)' if args.burst else f'{think[0]}-{think[1]} s'}")  # fmt: skip
    log = tempfile.NamedTemporaryFile(prefix="vaegan-app-load-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
    rows = []
    try:
        wait_for_health(url, process)
        sampler = RssSampler(process.pid)
        sampler.start()
        # One warm-up session: the first run imports torch in the server and fills the model caches; that cost
        # belongs to start-up (bench/app.py measures it), not to N concurrent users.
        asyncio.run(run_sessions(url, 1, 1, (0.0, 0.0)))
        for n in counts:
            rss_before, sampler.peak = sampler.current(), 0
            load = os.getloadavg()[0]
            started, cpu_before = time.perf_counter(), sampler.cpu_seconds()
            sessions = asyncio.run(run_sessions(url, n, args.moves, think))
            wall, cpu = time.perf_counter() - started, sampler.cpu_seconds() - cpu_before
            times = [t for s in sessions for t in s.times if t == t]
            errors = [e for s in sessions for e in s.errors]
            worst = max((percentile(s.times, 0.95) for s in sessions if s.times), default=float("nan"))
            rows.append((n, len(times), len(errors), percentile(times, 0.5), percentile(times, 0.95),
                         max(times, default=float("nan")), worst, rss_before, sampler.peak,
                         (load + os.getloadavg()[0]) / 2, wall, cpu / max(1, n * (args.moves + 1))))  # fmt: skip
            for error in errors[:5]:
                print(f"  N={n} error: {error}")
        sampler.stop()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    print(f"server log: {log.name}")

    print("\nServer time of one ε-slider move (send -> script_finished), all sessions' moves together")
    header = f"{'sessions':>8s} {'moves':>6s} {'errors':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} "
    header += f"{'worst session p95':>18s} {'RSS before':>11s} {'RSS peak':>9s} {'load avg':>9s} {'wall s':>7s}"
    header += f" {'CPU ms/run':>10s}"
    print(header)
    for n, moves, errors, p50, p95, top, worst, rss0, rss1, load, wall, cpu in rows:
        times = f"{1e3 * p50:8.0f} {1e3 * p95:8.0f} {1e3 * top:8.0f} {1e3 * worst:18.0f}"
        memory = f"{rss0 / 2**20:9.0f}MB {rss1 / 2**20:7.0f}MB"
        print(f"{n:8d} {moves:6d} {errors:6d} {times} {memory} {load:9.1f} {wall:7.1f} {1e3 * cpu:10.0f}")
    target = all(r[2] == 0 and r[4] <= 1.0 for r in rows if r[0] == max(counts))
    print(f"\ntarget (N={max(counts)}: 0 errors, p95 <= 1 s): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
