"""Data-parallel training (vaegan.distributed): W gloo ranks on 127.0.0.1 against one process, exact resume,
torchrun restarts after kill -9, and a two-node rendezvous.

Groups of ranks come from `torch.multiprocessing.spawn` with torchrun's environment variables set by hand (so
`distributed.init` takes the same path as under torchrun), or from torchrun itself. Every test that starts
processes is marked `distributed`: `pytest -m "not distributed"` leaves them out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT
from vaegan import distributed
from vaegan.checkpoint import load_model, load_state, read_info, save_state
from vaegan.data import BinarySplits, ImageSet, load_rgb32
from vaegan.errors import ConfigError
from vaegan.train.vae import VAETrainConfig, train_vae
from vaegan.train.wgan import WGANTrainConfig, recipe, train_wgan
from vaegan.vae import VAEConfig
from vaegan.wgan import Critic, Generator, StepOptions, WGANConfig, critic_step, generator_step

TINY = WGANConfig(latent_dim=16, width=8)
WORLD = 2
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
# Loopback only: gloo binds to this interface, torchrun's agents advertise 127.0.0.1. A fresh rendezvous store
# per restart: torch 2.14's agent shares one store across restarts and a restarted rank can read the previous
# group's addresses (pytorch/pytorch#135712; docs/distributed.md).
LOOPBACK_ENV = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "COLUMNS": "200",
                "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, fn: Callable[..., Any], args: tuple, out: str) -> None:
    os.environ.update(LOOPBACK_ENV)
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})  # fmt: skip
    torch.set_num_threads(1)
    distributed.init(torch.device("cpu"))
    try:
        # the project's own state files (safetensors + a JSON skeleton): no pickle, even between test processes
        save_state(Path(out) / f"{rank}.safetensors", {"value": fn(*args)})
    finally:
        distributed.teardown()


def run_ranks(fn: Callable[..., Any], *args: Any, timeout: float = 240) -> list[Any]:
    """fn(*args) on each of WORLD ranks of one gloo group; every rank's return value, rank order. A rank that
    raises ends them all (torch.multiprocessing); ranks still running after `timeout` seconds are killed."""
    with tempfile.TemporaryDirectory() as out:
        context = torch.multiprocessing.spawn(_rank_main, args=(_free_port(), fn, args, out), nprocs=WORLD,
                                              join=False)  # fmt: skip
        deadline = time.monotonic() + timeout
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                for process in context.processes:
                    process.kill()
                pytest.fail(f"{fn.__name__} on {WORLD} ranks did not finish in {timeout:.0f} s")
        return [load_state(Path(out) / f"{rank}.safetensors")["value"] for rank in range(WORLD)]


def _scenarios(base: str) -> dict[str, Any]:
    """Everything the in-process tests check, in one group of ranks (starting ranks costs seconds each)."""
    return {"gradients": _one_step_gradients(16), "augmented": _one_step_gradients(16, "translation,cutout"),
            "vae": _train_vae_weights(), "wgan": _wgan_resume(base),
            "reference": _uninterrupted_wgan(str(_npz(Path(base) / f"ref-{distributed.rank()}.npz")), *KILL_RUN)}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("ranks")
    ranks = run_ranks(_scenarios, str(base))
    return {name: [r[name] for r in ranks] for name in ranks[0]}


def one_thread(fn: Callable[[], Any]) -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


# ------------------------------------------------------------------------------- without torchrun


def test_without_torchrun_every_helper_is_the_identity(tmp_path: Path) -> None:
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()
    batch = torch.randn(6, 3)
    assert distributed.shard(batch) is batch and distributed.local_batch(7) == 7
    torch.manual_seed(1)
    drawn = distributed.draw_shard(torch.randn, 5, 4)
    torch.manual_seed(1)
    assert torch.equal(drawn, torch.randn(5, 4))
    loss = torch.tensor(1.5)
    assert distributed.weight_shard(loss, 3, 6) is loss
    assert distributed.mean_over_ranks({"a": 1.0}) == {"a": 1.0} and distributed.from_main(3) == 3
    module = torch.nn.Linear(2, 2)
    assert distributed.wrap(module, sync_bn=True) is module and distributed.unwrap(module) is module
    state = tmp_path / "state.safetensors"
    assert distributed.load_newest_state(state, "iteration") is None
    state.write_bytes(b"old")
    assert distributed.resume_wanted(False, state) is False and state.exists()  # only torchrun clears it
    assert distributed.describe() == {}


def test_a_batch_that_does_not_split_over_the_ranks_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cli

    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    with pytest.raises(ConfigError, match=r"--batch-size 10 does not split over 4 processes; use a multiple of 4"):
        distributed.local_batch(10)
    # Every loop checks before it trains, and the CLI says so in one line.
    np.savez(tmp_path / "v.npz", X=(np.random.default_rng(0).random((40, 784)) < 0.2).astype(np.float32))
    argv = ["train", "vae", "--data", str(tmp_path / "v.npz"), "--batch-size", "10", "--hidden", "8", "--device",
            "cpu", "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "v.safetensors")]  # fmt: skip
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --batch-size 10 does not split over 4 processes; use a multiple of 4"
    )
    with pytest.raises(ConfigError, match="does not split"):
        train_wgan(TINY, ImageSet(images=_real(16), labels=None, name="x"), WGANTrainConfig(iters=1, batch_size=6))


# ---------------------------------------------------------------- DDP step = one process, global batch


def _players() -> tuple[Generator, Critic]:
    torch.manual_seed(0)
    generator, critic = Generator(TINY), Critic(TINY)
    # Eval-mode BatchNorm makes every fake depend on its own z only, so the critic step is a per-sample
    # computation whose batch gradient DDP must reproduce; train-mode statistics are per rank (docs/distributed.md).
    return generator.eval(), critic


def _real(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.nn.functional.avg_pool2d(torch.rand(n, 3, 32, 32, generator=g), 5, 1, 2) * 2 - 1


def _one_step_gradients(batch: int, augment: str = "none") -> dict[str, Any]:
    """One critic step (with the penalty's double backward) and one generator step on a global batch of `batch`;
    lr 0 keeps the weights, so the gradients of both steps can be read. `augment`: the critic's DiffAugment policy
    (its transforms are drawn per row of the global batch, like z)."""
    options = StepOptions(gp_weight=10.0, augment=augment)
    generator, critic = _players()
    ddp_generator, ddp_critic = distributed.wrap(generator), distributed.wrap(critic)
    frozen_c = torch.optim.SGD(critic.parameters(), lr=0.0)
    frozen_g = torch.optim.SGD(generator.parameters(), lr=0.0)
    torch.manual_seed(3)
    real = distributed.shard(_real(batch))
    stats = critic_step(generator, ddp_critic, frozen_c, real, options)
    critic_grads = {name: p.grad.clone() for name, p in critic.named_parameters()}
    g_loss = generator_step(ddp_generator, critic, frozen_g, distributed.local_batch(batch), torch.device("cpu"),
                            options)  # fmt: skip
    values = distributed.mean_over_ranks({"loss": stats.loss.item(), "penalty": stats.penalty.item(),
                                          "generator_loss": g_loss.item()})  # fmt: skip
    rng, refused = torch.get_rng_state(), ""
    if distributed.active():
        try:
            distributed.wrap(Generator(TINY), sync_bn=True)
        except ConfigError as exc:
            refused = str(exc)
    return {"critic": critic_grads, "generator": {n: p.grad.clone() for n, p in generator.named_parameters()},
            "values": values, "rng": rng, "sync_bn_refused": refused}  # fmt: skip


@pytest.mark.distributed
@pytest.mark.parametrize("scenario", ["gradients", "augmented"])
def test_ddp_gradients_with_the_penalty_double_backward_equal_one_process_on_the_global_batch(
    two_ranks: dict[str, Any], scenario: str
) -> None:
    """2 ranks x 8 rows against 1 process x 16 rows, with and without DiffAugment: the critic's gradients
    (Wasserstein term + the penalty's double backward through the DDP critic) and the generator's. DDP averages
    the ranks' gradients and each rank's loss is a mean over its 8 rows, so the average is the 16-row mean: no
    rescaling, equal up to float summation order."""
    single = one_thread(lambda: _one_step_gradients(16, "none" if scenario == "gradients" else "translation,cutout"))
    ranks = two_ranks[scenario]
    for part in ("critic", "generator"):
        diff = max_difference(ranks[0][part], single[part])
        scale = max(float(g.abs().max()) for g in single[part].values())
        print(f"{part}: max |DDP - single| = {diff:.3g} (largest gradient entry {scale:.3g})")
        assert diff <= 1e-5 * scale
        assert max_difference(ranks[0][part], ranks[1][part]) == 0.0  # the all-reduce gives every rank the same
    for name, value in single["values"].items():
        assert ranks[0]["values"][name] == pytest.approx(value, rel=1e-5)
    assert all(torch.equal(r["rng"], single["rng"]) for r in ranks)  # same draws everywhere: rank 0's state fits
    assert "SyncBatchNorm does not run on CPUs (gloo)" in ranks[0]["sync_bn_refused"]


# ------------------------------------------------------------------------------- (a) VAE: 2 x half = 1 x full


def _splits() -> BinarySplits:
    g = torch.Generator().manual_seed(0)
    grey = torch.rand(1, 784, generator=g) * 0.6
    make = lambda n: grey.expand(n, -1).clone()  # noqa: E731
    # 203 training rows: batches of 32 leave 11 rows, which split 6 + 5 (weight_shard's case); grey levels are
    # binarized per batch (dynamic), from the RNG every rank keeps equal.
    return BinarySplits(train=make(203), valid=make(32), test=make(32), dynamic=True, name="grey203")


def _train_vae_weights(state_dir: str | None = None) -> dict[str, Any]:
    result = train_vae(VAEConfig(latent_dim=4, hidden=32), _splits(), VAETrainConfig(epochs=2, batch_size=32),
                       state_path=Path(state_dir) / "state.safetensors" if state_dir else None)  # fmt: skip
    return {"weights": result.model.state_dict(), "history": result.history}


@pytest.mark.distributed
def test_vae_two_ranks_with_half_batches_equal_one_process_with_full_batches(two_ranks: dict[str, Any]) -> None:
    single = one_thread(_train_vae_weights)
    ranks = two_ranks["vae"]
    diff = max_difference(ranks[0]["weights"], single["weights"])
    print(f"VAE after 14 steps: max |DDP - single| weight difference = {diff:.3g}")
    assert diff < 1e-5
    assert max_difference(ranks[0]["weights"], ranks[1]["weights"]) == 0.0
    for a, b in zip(ranks[0]["history"], single["history"], strict=True):
        assert a["train_neg_elbo"] == pytest.approx(b["train_neg_elbo"], rel=1e-5)
        assert a["valid_neg_elbo"] == pytest.approx(b["valid_neg_elbo"], rel=1e-5)


# ------------------------------------------------------------------------ (b) WGAN: checkpoint, exact resume


class _SimulatedCrashError(Exception):
    pass


def _wgan_resume(base: str) -> dict[str, Any]:
    """An uninterrupted 2-rank run, and one that every rank abandons at iteration 5 (after the checkpoint at 3)
    and resumes. The cut run gives each rank its own run dir, as machines without a shared filesystem have: rank
    0 writes, and on resume rank 1 receives rank 0's state."""
    data = ImageSet(images=_real(40), labels=None, name="blobs40")
    config = WGANTrainConfig(iters=7, batch_size=8, n_critic=2, checkpoint_every=3, sample_every=3, log_every=2)
    full = train_wgan(TINY, data, config, run_dir=Path(base) / "full")

    def crash_at_5(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "step" and report.done == 5:
            raise _SimulatedCrashError

    cut = Path(base) / f"cut-rank{distributed.rank()}"
    with contextlib.suppress(_SimulatedCrashError):
        train_wgan(TINY, data, config, run_dir=cut, on_progress=crash_at_5)
    had_state = (cut / "state.safetensors").exists()
    torch.manual_seed(12345)  # a new process would start from another RNG state: the state file must restore it
    resumed = train_wgan(TINY, data, config, run_dir=cut, resume=True)

    def weights(result) -> dict[str, torch.Tensor]:  # noqa: ANN001 - TrainResult
        modules = {"ema": result.model, **result.parts}
        return {f"{m}.{k}": v for m in ("generator", "critic", "ema") for k, v in modules[m].state_dict().items()}

    return {"full": weights(full), "resumed": weights(resumed), "had_state": had_state,
            "files": sorted(str(p.relative_to(base)) for p in Path(base).rglob("*") if p.is_file()),
            "history": [h["iteration"] for h in resumed.history]}  # fmt: skip


@pytest.mark.distributed
def test_wgan_on_two_ranks_checkpoints_and_resumes_exactly(two_ranks: dict[str, Any]) -> None:
    ranks = two_ranks["wgan"]
    for r in ranks:
        assert all(torch.equal(r["full"][k], r["resumed"][k]) for k in r["full"]), "resume is not exact"
        assert r["history"] == [2, 4, 6, 7]
    # The weights are the same on every rank; BatchNorm running statistics are each rank's own (rank 0's are
    # saved, and DDP re-broadcasts rank 0's before every generator step).
    weights = [{k: v for k, v in r["full"].items() if "running_" not in k} for r in ranks]
    assert max_difference(weights[0], weights[1]) == 0.0
    assert [r["had_state"] for r in ranks] == [True, False]  # only rank 0 writes ...
    files = ranks[1]["files"]
    assert "cut-rank1/state.safetensors" in files  # ... and the resume copied its state to rank 1's run dir
    assert not any(f.startswith("cut-rank1/samples") for f in files)
    assert [f for f in files if f.startswith("full/")] == [
        "full/samples/iter_000003.png", "full/samples/iter_000006.png", "full/samples/iter_000007.png",
        "full/state.safetensors", "full/timeline.safetensors",
    ]  # fmt: skip
    assert not any(f.startswith("cut-rank1/timeline") for f in files)  # the timeline too: rank 0 alone


# ------------------------------------------------------------------------------ torchrun: kill -9, restarts


def _npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8))
    return path


KILL_RUN = (120, 5)  # iterations, checkpoint every
WGAN_FLAGS = ["--width", "4", "--latent-dim", "8", "--batch-size", "8", "--n-critic", "1", "--sample-every", "1000",
              "--threads", "1", "--device", "cpu"]  # fmt: skip


def _torchrun(*launcher: str) -> list[str]:
    return [TORCHRUN, *launcher, str(REPO_ROOT / "cli.py"), "train", "wgan"]


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (torchrun's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _worker_rank(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if entry.startswith(b"RANK="):
                return int(entry[5:])
    return None


def _uninterrupted_wgan(data: str, iters: int, checkpoint_every: int) -> dict[str, torch.Tensor]:
    model_config, train_config = recipe("fast", width=4, latent_dim=8, batch_size=8, n_critic=1, iters=iters,
                                        checkpoint_every=checkpoint_every, sample_every=1000)  # fmt: skip
    return train_wgan(model_config, load_rgb32(data), train_config).model.state_dict()


@pytest.mark.distributed
@pytest.mark.slow
def test_kill_9_of_a_worker_restarts_the_group_and_ends_with_the_uninterrupted_weights(
    tmp_path: Path, two_ranks: dict[str, Any]
) -> None:
    """torchrun --max-restarts 2: rank 0's worker is killed with SIGKILL after a checkpoint; torchrun restarts the
    group, which resumes by itself from the last state and exports the weights of an uninterrupted 2-rank run."""
    data = str(_npz(tmp_path / "d.npz"))
    iters, every = KILL_RUN
    state = tmp_path / "run" / "state.safetensors"
    proc = subprocess.Popen(
        [*_torchrun("--standalone", "--nproc-per-node", str(WORLD), "--max-restarts", "2"), "--data", data,
         *WGAN_FLAGS, "--iters", str(iters), "--checkpoint-every", str(every), "--run-dir", str(tmp_path / "run"),
         "--out", str(tmp_path / "w.safetensors")],
        env={**os.environ, **LOOPBACK_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180  # a guard against hangs: on an idle machine the state comes in seconds
        while time.monotonic() < deadline and not state.exists():
            time.sleep(0.02)
        assert state.exists(), "no checkpoint within 180 s"
        victim = next(pid for pid in _children(proc.pid) if _worker_rank(pid) == 0)
        os.kill(victim, signal.SIGKILL)
        killed_at = int(load_state(state)["iteration"])
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert killed_at < iters
    assert stderr.count("training WGAN-GP") == 2, stderr[-3000:]  # rank 0 started twice: torchrun restarted it
    info = read_info(tmp_path / "w.safetensors")
    assert info.steps == iters and info.extra["world_size"] == WORLD and info.extra["backend"] == "gloo"
    exported = load_model(tmp_path / "w.safetensors").state_dict()
    reference = two_ranks["reference"][0]  # the uninterrupted run of the same world size (same data, settings)
    assert exported.keys() == reference.keys() and all(torch.equal(exported[k], v) for k, v in reference.items())


@pytest.mark.distributed
@pytest.mark.slow
def test_two_torchrun_nodes_rendezvous_on_loopback_and_train_one_step(tmp_path: Path) -> None:
    """Two launchers, --nnodes 2 with the c10d rendezvous on 127.0.0.1, one worker each: they form one group of 2
    and train one WGAN iteration; rank 0 exports a file that records the world size."""
    data = str(_npz(tmp_path / "d.npz"))
    launcher = ["--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-id", "vaegan-test", "--local-addr", "127.0.0.1"]
    command = [*_torchrun(*launcher), "--data", data, *WGAN_FLAGS, "--iters", "1", "--run-dir", str(tmp_path / "run"),
               "--out", str(tmp_path / "w.safetensors")]  # fmt: skip
    env = {**os.environ, **LOOPBACK_ENV}
    nodes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    try:
        errors = [node.communicate(timeout=300)[1] for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
    assert [node.returncode for node in nodes] == [0, 0], [e[-2000:] for e in errors]
    info = read_info(tmp_path / "w.safetensors")
    assert info.steps == 1 and info.extra["world_size"] == 2
    assert info.extra["command"].startswith("torchrun --nnodes 2 --nproc-per-node 1 cli.py train wgan")
