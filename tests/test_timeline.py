"""WGAN training timelines: recorded by the loop without changing it, exact under resume, the same numbers as
`eval wgan`, the same images as the sample grids, a small sidecar next to the exported model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import make_tiny_classifier, smooth_images
from tests.test_wgan import TINY, tiny_images
from vaegan.checkpoint import load_state, save_model
from vaegan.errors import CheckpointError, DataError
from vaegan.latent import generate
from vaegan.metrics import evaluate_generator
from vaegan.timeline import (
    SIDECAR_MAX_FRAMES,
    TIMELINE_FILE,
    Timeline,
    TimelineScorer,
    export_sidecar,
    frame_index,
    metric_curves,
    metric_rows,
    sidecar_path,
    timeline_from_grids,
    to_uint8,
)
from vaegan.train.wgan import WGANTrainConfig, preview_latents, train_wgan
from vaegan.wgan import Generator

CONFIG = WGANTrainConfig(iters=7, batch_size=8, n_critic=1, checkpoint_every=3, sample_every=2, timeline_every=2,
                         log_every=2)  # fmt: skip


def scorer() -> TimelineScorer:
    return TimelineScorer(make_tiny_classifier(), smooth_images(40, seed=3), n=12, k=3, seed=1, data="blobs")


def weights(result) -> dict[str, torch.Tensor]:  # noqa: ANN001 - TrainResult
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_the_loop_records_the_ema_images_of_the_grids_first_16_latents(tmp_path: Path) -> None:
    result = train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path)
    timeline = Timeline.load(tmp_path / TIMELINE_FILE)
    assert timeline.iterations == [0, 2, 4, 6, 7]  # the untrained generator, every 2nd iteration, the last one
    assert timeline.images.dtype == torch.uint8 and timeline.images.shape == (5, 16, 3, 32, 32)
    latents = preview_latents(64, TINY.latent_dim, CONFIG.seed)[:16]
    assert torch.equal(timeline.latents, latents)
    assert torch.equal(timeline.images[-1], to_uint8(generate(result.model, latents)))
    assert timeline.metrics == {} and timeline.info["source"] == "training" and timeline.info["every"] == 2
    # The frames are the first 16 images of the sample grids, to the bit.
    grids = timeline_from_grids(tmp_path)
    assert grids.iterations == [2, 4, 6, 7] and torch.equal(grids.images, timeline.images[1:])


def test_recording_changes_nothing_the_run_computes(tmp_path: Path) -> None:
    plain = train_wgan(TINY, tiny_images(40), WGANTrainConfig(**{**CONFIG.__dict__, "timeline_every": 0}),
                       run_dir=tmp_path / "plain")  # fmt: skip
    recorded = train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path / "recorded", timeline_scorer=scorer())
    a, b = weights(plain), weights(recorded)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "plain" / TIMELINE_FILE).exists()
    # timeline_every is not one of the numbers a resumed run must match
    assert train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path / "plain", resume=True).steps == 7


def test_the_metrics_are_the_eval_wgan_numbers(tmp_path: Path) -> None:
    score = scorer()
    result = train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path, timeline_scorer=score)
    timeline = Timeline.load(tmp_path / TIMELINE_FILE)
    assert timeline.metric_iterations == timeline.iterations
    evaluated = evaluate_generator(result.model, score.classifier, smooth_images(40, seed=3), latent_dim=16, n=12,
                                   seed=1, k=3)  # fmt: skip
    for name in ("fid", "precision", "recall"):
        assert timeline.metrics[name][-1] == pytest.approx(evaluated[name])
        assert timeline.info[f"real_vs_real_{name}"] == pytest.approx(evaluated[f"real_vs_real_{name}"])
        assert timeline.floor[name] == pytest.approx(evaluated[f"real_vs_real_{name}"])
    assert timeline.info["n"] == 12 and timeline.info["holdout"] == "blobs"
    curves = metric_curves(timeline)
    assert curves["fid"] == (timeline.iterations, timeline.metrics["fid"])


class _SimulatedCrashError(Exception):
    pass


def test_an_interrupted_and_resumed_run_ends_with_the_same_timeline(tmp_path: Path) -> None:
    full = train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path / "full", timeline_scorer=scorer())

    def crash_at_5(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "step" and report.done == 5:  # recorded 4 already, the last state is at 3
            raise _SimulatedCrashError

    with pytest.raises(_SimulatedCrashError):
        train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path / "cut", on_progress=crash_at_5,
                   timeline_scorer=scorer())  # fmt: skip
    assert load_state(tmp_path / "cut" / "state.safetensors")["iteration"] == 3
    assert Timeline.load(tmp_path / "cut" / TIMELINE_FILE).iterations == [0, 2, 4]  # 4: past the last state
    resumed = train_wgan(TINY, tiny_images(40), CONFIG, run_dir=tmp_path / "cut", resume=True,
                         timeline_scorer=scorer())  # fmt: skip
    a, b = weights(full), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    one, two = Timeline.load(tmp_path / "full" / TIMELINE_FILE), Timeline.load(tmp_path / "cut" / TIMELINE_FILE)
    assert one.iterations == two.iterations == [0, 2, 4, 6, 7]
    assert torch.equal(one.images, two.images)
    assert one.metrics == two.metrics and one.metric_iterations == two.metric_iterations
    assert one.info == two.info


def test_the_sidecar_is_small_and_keeps_the_ends(tmp_path: Path) -> None:
    frames = 100
    timeline = Timeline(
        list(range(0, 50 * frames, 50)),
        torch.randint(0, 256, (frames, 16, 3, 32, 32), dtype=torch.uint8),
        torch.randn(16, 100),
        list(range(0, 50 * frames, 50)),
        {"fid": [float(i) for i in range(frames)]},
        {"source": "training"},
    )
    run = tmp_path / "run"
    timeline.save(run / TIMELINE_FILE)
    model = tmp_path / "checkpoints" / "wgan.safetensors"
    save_model(Generator(TINY), model)
    written = export_sidecar(run, model)
    assert written == sidecar_path(model) == tmp_path / "checkpoints" / "wgan_timeline.safetensors"
    assert written.stat().st_size < 2_000_000
    small = Timeline.load(written)
    assert len(small) == SIDECAR_MAX_FRAMES and small.iterations[0] == 0 and small.iterations[-1] == 50 * (frames - 1)
    assert small.metrics == timeline.metrics  # every metric point stays
    assert torch.equal(small.images[5], timeline.images[timeline.iterations.index(small.iterations[5])])
    assert frame_index(small, small.iterations[5] + 1) == 5 and frame_index(small, -1) == 0
    assert export_sidecar(tmp_path / "no-run", model) is None


def test_export_wgan_writes_the_timeline_only_up_to_the_exported_state(tmp_path: Path) -> None:
    """`vaegan export wgan` of a run that recorded past its last state (still running, or killed): the sidecar
    stops at the exported iteration, because later records belong to weights the file does not hold."""
    from vaegan.cli.runs import export_wgan_command

    run = tmp_path / "run"
    train_wgan(TINY, tiny_images(40), CONFIG, run_dir=run, timeline_scorer=scorer())
    recorded = Timeline.load(run / TIMELINE_FILE)
    later = Timeline(
        [*recorded.iterations, 9, 11],
        torch.cat([recorded.images, (255 - recorded.images[-1:]).repeat(2, 1, 1, 1, 1)]),
        recorded.latents,
        [*recorded.metric_iterations, 9, 11],
        {name: [*values, 1.0, 2.0] for name, values in recorded.metrics.items()},
        recorded.info,
    )
    later.save(run / TIMELINE_FILE)
    out = tmp_path / "exported" / "wgan.safetensors"
    export_wgan_command(run_dir=run, out=out, half=False)
    sidecar = Timeline.load(sidecar_path(out))
    assert load_state(run / "state.safetensors")["iteration"] == 7
    assert sidecar.iterations == recorded.iterations and sidecar.iterations[-1] == 7
    assert sidecar.metric_iterations == recorded.metric_iterations and sidecar.metrics == recorded.metrics
    assert torch.equal(sidecar.images, recorded.images)


def test_bad_files_and_folders_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "garbage.safetensors").write_bytes(b"not a timeline")
    with pytest.raises(CheckpointError, match="not a valid safetensors"):
        Timeline.load(tmp_path / "garbage.safetensors")
    save_model(Generator(TINY), tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="not a vaegan training timeline"):
        Timeline.load(tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="no timeline"):
        Timeline.load(tmp_path / "missing.safetensors")
    with pytest.raises(DataError, match="no sample grids"):
        timeline_from_grids(tmp_path)
    (tmp_path / "samples").mkdir()
    from vaegan.images import save_png

    save_png(tmp_path / "samples" / "iter_000010.png", torch.zeros(4, 3, 32, 32), nrow=8)  # too few images
    with pytest.raises(DataError, match="not a grid"):
        timeline_from_grids(tmp_path)


def test_the_cli_default_timeline_is_the_shipped_generators_sidecar() -> None:
    from vaegan.cli.options import WGAN_CKPT, WGAN_TIMELINE

    assert WGAN_TIMELINE == sidecar_path(WGAN_CKPT) == Path("checkpoints/wgan_timeline.safetensors")


def test_metric_rows_are_one_row_per_scored_iteration_with_none_for_a_missing_value() -> None:
    timeline = Timeline([0], torch.zeros(1, 16, 3, 32, 32, dtype=torch.uint8), metric_iterations=[0, 500],
                        metrics={"fid": [800.0, float("nan")], "precision": [0.0, 0.5]})  # fmt: skip
    assert metric_rows(timeline) == [{"iteration": 0, "fid": 800.0, "precision": 0.0},
                                     {"iteration": 500, "fid": None, "precision": 0.5}]  # fmt: skip


def test_the_curves_figure_draws_each_metric_and_the_floor_the_timeline_holds() -> None:
    from vaegan.figures import metric_curves_figure

    timeline = Timeline([0], torch.zeros(1, 16, 3, 32, 32, dtype=torch.uint8), metric_iterations=[0, 500],
                        metrics={"fid": [800.0, 9.0], "precision": [0.0, 0.7]},
                        info={"real_vs_real_fid": 2.9, "n": 1000})  # fmt: skip
    assert timeline.floor == {"fid": 2.9}
    figure = metric_curves_figure(metric_curves(timeline), timeline.floor, marked=500)
    assert [trace.name for trace in figure.data] == ["Fréchet distance", "Fréchet distance, real vs real", "precision"]
    assert list(figure.data[1].y) == [2.9, 2.9]
    assert Timeline([0], timeline.images).floor == {}
