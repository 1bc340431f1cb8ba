"""Drawn distributions (vaegan.divergences.drawn): ink -> points, the URL code, and the estimates on drawn shapes
whose answer is known. Tiny critics: the whole file runs in seconds."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from vaegan.divergences.drawn import (
    CELL,
    GRID_SIDE,
    P_INK,
    Q_INK,
    Drawing,
    DrawnTarget,
    ink_mask,
    load_drawing,
    preset,
    sample_mask,
    translate_mask,
)
from vaegan.divergences.drawn_cache import ResultCache
from vaegan.divergences.drawn_estimates import DrawnConfig, Interval, estimate_drawing, sweep_drawing
from vaegan.divergences.generators import drawn_generator_config, train_generator
from vaegan.divergences.targets import exact_w1
from vaegan.errors import ConfigError, DataError, VaeganError
from vaegan.vocabulary import DRAWING_PRESETS

REPO_ROOT = Path(__file__).resolve().parents[1]
# Small critics that still converge on well separated shapes.
TINY = dict(seeds=3, iters=80, batch_size=128, eval_size=1024, exact_points=128, heatmap_size=9)


def blank() -> np.ndarray:
    return np.zeros((GRID_SIDE, GRID_SIDE), dtype=bool)


def irregular_mask() -> np.ndarray:
    """An L, a dot and a diagonal: cells of unequal neighbourhoods, so a density that favoured some would show."""
    mask = blank()
    mask[5:30, 8] = True
    mask[29, 8:25] = True
    mask[12, 33] = True
    for i in range(10):
        mask[10 + i, 15 + i] = True
    return mask


# ------------------------------------------------------------------------------------------- ink -> points


def test_points_follow_the_mask_chi_square_on_the_cells() -> None:
    mask = irregular_mask()
    n = 40_000
    points = sample_mask(mask, n, torch.Generator().manual_seed(0), blur=0.0).numpy()
    cols = np.floor(points[:, 0] / CELL + 0.5).astype(int) + GRID_SIDE // 2
    rows = GRID_SIDE // 2 - np.floor(points[:, 1] / CELL + 0.5).astype(int)
    counts = np.zeros((GRID_SIDE, GRID_SIDE))
    np.add.at(counts, (rows, cols), 1)
    assert counts[~mask].sum() == 0  # without blur every point lies in an inked cell
    observed = counts[mask]
    expected = n / mask.sum()  # every inked cell holds the same mass
    statistic = float(((observed - expected) ** 2 / expected).sum())
    p_value = float(chi2.sf(statistic, df=mask.sum() - 1))
    assert p_value > 1e-3, (statistic, p_value)
    # a density that ignored the mask's shape (say, uniform on its bounding box) fails the same test
    box = np.zeros_like(mask)
    box[5:30, 8:34] = True
    assert float(chi2.sf(((counts[box] - n / box.sum()) ** 2 / (n / box.sum())).sum(), box.sum() - 1)) < 1e-12


def test_the_blur_gives_a_stroke_width() -> None:
    line = blank()
    line[:, GRID_SIDE // 2] = True  # the vertical line x = 0
    x = sample_mask(line, 50_000, torch.Generator().manual_seed(1), blur=0.05)[:, 0]
    # uniform across the cell (variance CELL²/12) plus the blur's variance
    assert float(x.std()) == pytest.approx(math.sqrt(CELL**2 / 12 + 0.05**2), rel=0.02)


def test_ink_is_read_per_colour_and_per_cell() -> None:
    image = np.zeros((GRID_SIDE * 8, GRID_SIDE * 8, 4), dtype=np.uint8)
    image[..., 3] = 255
    image[80:160, 40:48, 0] = 255  # a red (P) bar: rows 10-19 of column 5
    image[200:208, 240:320, 2] = 255  # a blue (Q) bar: row 25, columns 30-39
    drawing = Drawing.from_rgba(image)
    p, q = blank(), blank()
    p[10:20, 5] = True
    q[25, 30:40] = True
    assert np.array_equal(drawing.p, p) and np.array_equal(drawing.q, q)


@pytest.mark.parametrize("ink", [np.zeros((100, 100)), np.full((100, 100), 0.1), np.full((7, 7), np.nan)])
def test_a_blank_or_faint_canvas_is_a_clear_message(ink: np.ndarray) -> None:
    strokes = np.zeros((100, 100))
    strokes[40:60, 40:60] = 1.0
    with pytest.raises(DataError, match="nothing is drawn for P") as error:
        Drawing.from_ink(ink, strokes)
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="nothing is drawn for Q"):
        Drawing.from_ink(strokes, ink)
    assert not ink_mask(ink).any()


# ----------------------------------------------------------------------------------------------- the URL code


@pytest.mark.parametrize("name", DRAWING_PRESETS)
def test_a_drawing_travels_in_a_short_code_and_gives_the_same_points(name: str) -> None:
    drawing = preset(name)
    code = drawing.code
    assert len(code) <= 300 and code.isascii() and all(c.isalnum() or c in "-_" for c in code)
    again = Drawing.from_code(code)
    assert again == drawing and again.code == code
    for which in ("p", "q"):
        a = drawing.sample(which, 500, torch.Generator().manual_seed(3))
        b = again.sample(which, 500, torch.Generator().manual_seed(3))
        assert torch.equal(a, b)


def test_a_hand_drawn_canvas_code_stays_within_a_few_hundred_characters() -> None:
    rng = np.random.default_rng(0)
    ink_p, ink_q = np.zeros((328, 328)), np.zeros((328, 328))
    for ink in (ink_p, ink_q):  # five random thick strokes each
        for _ in range(5):
            x, y = rng.integers(20, 300, size=2)
            for t in np.linspace(0, 1, 60):
                cx, cy = int(x + 80 * t * np.cos(x)), int(y + 80 * t * np.sin(y))
                ink[max(0, cy - 8) : cy + 8, max(0, cx - 8) : cx + 8] = 1.0
    assert len(Drawing.from_ink(ink_p, ink_q).code) <= 600


BAD_CODES = ["", "hello", "d1", "d1!!!", "d1" + "A" * 50, "d1" + "A" * 3000, "x" + preset("lines").code]


@pytest.mark.parametrize("bad", BAD_CODES)
def test_bad_codes_are_one_line_data_errors(bad: str) -> None:
    with pytest.raises(DataError) as error:
        Drawing.from_code(bad)
    assert "\n" not in str(error.value)


def test_a_zip_bomb_is_refused_without_inflating_it() -> None:
    import base64
    import zlib

    bomb = "d1" + base64.urlsafe_b64encode(zlib.compress(b"\xff" * 10_000_000, 9)).decode().rstrip("=")
    assert len(bomb) < 20_000
    with pytest.raises(DataError):
        Drawing.from_code(bomb)


# ----------------------------------------------------------------------------------- estimates on known shapes


def test_two_disjoint_blobs_saturate_every_bounded_divergence() -> None:
    estimates = estimate_drawing(preset("two blobs"), DrawnConfig(
        divergences=("hellinger", "jensen-shannon", "total-variation", "wasserstein"), **TINY))  # fmt: skip
    # the blobs are 2 - 2·0.35 = 1.3 apart with a blur of 0.05: disjoint to any precision a critic can see
    assert estimates.estimates["hellinger"].mean == pytest.approx(2.0, abs=0.02)
    assert estimates.estimates["jensen-shannon"].mean == pytest.approx(math.log(2.0), abs=0.01)
    assert estimates.estimates["total-variation"].mean == pytest.approx(1.0, abs=0.01)
    # the blobs are one disk moved by 2: W1 = 2 exactly, and the exact W1 of samples drawn alike is 2 too
    assert estimates.exact_w1 == pytest.approx(2.0, abs=1e-6)
    assert estimates.estimates["wasserstein"].mean == pytest.approx(2.0, abs=0.1)
    interval = estimates.estimates["wasserstein"]
    assert interval.low <= interval.mean <= interval.high and len(interval.values) == TINY["seeds"]
    assert len(estimates.heatmaps["hellinger"]) == TINY["heatmap_size"]


@pytest.mark.parametrize(("cols", "rows"), [(7, 0), (-3, 4)])
def test_a_shape_and_its_copy_moved_by_d_are_d_apart(cols: int, rows: int) -> None:
    p = irregular_mask()[:, :30]
    p = np.pad(p, ((0, 0), (0, GRID_SIDE - 30)))
    p = translate_mask(p, 4, -4)  # away from the edges, so that the copy keeps every cell
    drawing = Drawing(p, translate_mask(p, cols, rows))
    assert drawing.q.sum() == drawing.p.sum()
    d = CELL * math.hypot(cols, rows)
    estimates = estimate_drawing(drawing, DrawnConfig(divergences=("wasserstein",), **TINY))
    assert estimates.exact_w1 == pytest.approx(d, abs=1e-6)  # float32 points: the translation rounds
    assert estimates.estimates["wasserstein"].mean == pytest.approx(d, abs=0.08)


def test_identical_drawings_are_zero_apart_by_every_divergence() -> None:
    mask = preset("ring vs centre").p
    estimates = estimate_drawing(Drawing(mask, mask), DrawnConfig(**TINY))
    assert estimates.exact_w1 == 0.0
    for name, interval in estimates.estimates.items():
        # on fresh points a critic's bound between equal distributions is ~0 (it cannot beat 0 in expectation)
        assert abs(interval.mean) < 0.05, (name, interval)


def test_sliding_q_sweeps_every_theta_at_once() -> None:
    sweep = sweep_drawing(preset("lines"), "towards P", thetas=[0.0, 0.5, 1.0, 1.5],
                          config=DrawnConfig(divergences=("hellinger", "wasserstein"), **TINY))  # fmt: skip
    assert sweep.vector == pytest.approx([-1.0, 0.0])  # Q is the line at x = 1, P at x = 0
    # Q at x = 1 - θ: W1 = |1 - θ| exactly on samples drawn alike; H² = 2 except where the lines meet
    assert sweep.exact_w1 == pytest.approx([1.0, 0.5, 0.0, 0.5], abs=1e-6)
    w1 = [i.mean for i in sweep.estimates["wasserstein"]]
    assert w1 == pytest.approx([1.0, 0.5, 0.0, 0.5], abs=0.08)
    h2 = [i.mean for i in sweep.estimates["hellinger"]]
    assert h2[0] == pytest.approx(2.0, abs=0.03) and h2[1] == pytest.approx(2.0, abs=0.03)
    assert abs(h2[2]) < 0.05


def test_interval_is_the_student_t_interval() -> None:
    interval = Interval.of([1.0, 2.0, 3.0])
    assert interval.mean == 2.0
    assert interval.high - interval.mean == pytest.approx(4.303 * 1.0 / math.sqrt(3))


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        DrawnConfig(seeds=1)
    with pytest.raises(ConfigError):
        DrawnConfig(divergences=("hellinger", "hellinger"))
    with pytest.raises(ConfigError):
        preset("a cat")
    with pytest.raises(VaeganError):
        sweep_drawing(preset("lines"), "sideways")


# --------------------------------------------------------------------------------- a generator towards it


def test_the_regions_of_p_are_its_modes() -> None:
    drawing = preset("8 Gaussians vs one")
    target = DrawnTarget(drawing)
    assert target.region_count == 8
    rng = torch.Generator().manual_seed(0)
    p_points = drawing.sample("p", 512, rng)
    assert target.regions_covered(p_points) == 8 and target.quality(p_points) > 0.99
    q_points = drawing.sample("q", 512, rng)
    assert target.regions_covered(q_points) == 0 and target.quality(q_points) == 0.0
    assert target.regions_covered(p_points[:64][p_points[:64, 0] > 0.5]) < 8  # one side of the ring only


def test_a_generator_trains_towards_a_drawing() -> None:
    drawing = preset("two blobs")
    config = drawn_generator_config(drawing.code, steps=4, batch_size=32, width=8, frame_every=2,
                                    frame_samples=32, frame_arrows=8, grid_size=7)  # fmt: skip
    run = train_generator(config)
    assert run.config.target == "drawing" and run.mode_count == 1
    assert set(run.modes) == set(config.losses) and len(run.modes["js"]) == len(run.steps)
    # the generator starts at Q's centre (x = 1), the target P is the blob at x = -1
    start = np.asarray(run.samples["js"][0]).mean(0)
    assert abs(start[0] - 1.0) < 0.5
    assert np.asarray(run.target_samples)[:, 0].mean() == pytest.approx(-1.0, abs=0.1)
    assert run.w1["js"][0] == pytest.approx(exact_w1(run.samples["js"][0], run.target_samples))
    with pytest.raises(DataError):
        drawn_generator_config("d1nonsense")


# ----------------------------------------------------------------------------------------------- the cache


def test_the_cache_is_bounded_by_entries_and_bytes_and_computes_a_key_once() -> None:
    import threading
    import time

    cache: ResultCache[bytes] = ResultCache(max_entries=3, max_bytes=10_000)
    for i in range(5):
        assert cache.get(f"k{i}", lambda i=i: bytes(1000 + i)) == bytes(1000 + i)
    assert len(cache) == 3 and "k0" not in cache and "k4" in cache  # least recently used out first
    cache.get("big", lambda: bytes(9_000))
    assert cache.total_bytes <= 10_000 and "big" in cache and len(cache) == 1
    assert cache.get("huge", lambda: bytes(20_000)) == bytes(20_000) and "huge" not in cache  # over the bound

    # 20 sessions at once, each with its own key, plus 5 that ask for one shared key
    cache = ResultCache(max_entries=64, max_bytes=10**7)
    calls: list[str] = []
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def session(key: str) -> None:
        def compute() -> str:
            calls.append(key)
            time.sleep(0.02)
            return f"result of {key}"

        try:
            results[f"{key}#{threading.get_ident()}"] = (key, cache.get(key, compute))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(f"drawing {i}",)) for i in range(20)]
    threads += [threading.Thread(target=session, args=("shared",)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 25
    assert all(value == f"result of {key}" for key, value in results.values())
    assert calls.count("shared") == 1 and len(calls) == 21


# ------------------------------------------------------------------------------------------------- the app
# (AppTest; the same tiny app files as tests/test_app.py. The real canvas in a browser: tests/test_browser_draw.py)

from tests.test_app import AppFiles, OpenPage, app_files, assert_healthy, open_page, shown  # noqa: E402, F401


def canvas_picture(drawing: Drawing) -> dict:
    """What the browser's canvas sends after showing `drawing` (red P, blue Q on black), as tests/test_app.py's
    component_value stands for a digit."""
    import base64
    import io

    from PIL import Image

    cells = 8  # canvas pixels per cell (demo/drawn_target.py)
    rgba = np.zeros((GRID_SIDE * cells, GRID_SIDE * cells, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    for mask, color in ((drawing.p, P_INK), (drawing.q, Q_INK)):
        rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
        for row, col in zip(*mask.nonzero(), strict=True):
            block = rgba[row * cells : (row + 1) * cells, col * cells : (col + 1) * cells, :3]
            block[...] = np.maximum(block, rgb)
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def drawing_table(at: object) -> object:
    """The estimates' table (the page's other tables have no interval column)."""
    (table,) = [frame.value for frame in at.dataframe if "95% interval" in frame.value]  # type: ignore[attr-defined]
    return table


def test_the_divergences_page_estimates_a_drawing_and_puts_it_in_the_url(open_page: OpenPage) -> None:  # noqa: F811
    at = open_page("views/divergences.py", query={"draw_on": "true"})
    assert_healthy(at)
    lines = preset("lines")
    assert at.query_params["draw"] == lines.code  # the default drawing, in the URL
    table = drawing_table(at)
    library = estimate_drawing(lines)  # the page's numbers are the library's, at the same seeds
    assert list(table["estimate"])[-1] == round(library.exact_w1, 4) == pytest.approx(1.0, abs=1e-6)
    assert list(table["estimate"])[0] == round(library.estimates["hellinger"].mean, 4)

    blobs = preset("two blobs")
    at.session_state["drawn_canvas_1"] = canvas_picture(blobs)  # the learner draws two blobs on the canvas
    at.run()
    assert_healthy(at)
    assert at.query_params["draw"] == blobs.code
    assert list(drawing_table(at)["estimate"])[-1] == pytest.approx(2.0, abs=1e-4)

    at.main.get_by_key("draw_sweep").click().run()  # slide Q: every θ at once
    assert_healthy(at)
    chart = at.main.get_by_key("draw_sweep_chart")
    assert chart is not None


def test_a_shared_link_shows_the_same_drawing_and_a_bad_one_resets(open_page: OpenPage) -> None:  # noqa: F811
    ring = preset("ring vs centre")
    at = open_page("views/divergences.py", query={"draw_on": "true", "draw": ring.code})
    assert_healthy(at)
    assert at.session_state["drawing_code"] == ring.code and not at.info
    bad = open_page("views/divergences.py", query={"draw_on": "true", "draw": "d1not-a-drawing"})
    assert not bad.exception
    assert any("could not be read" in info.value for info in bad.info)
    assert bad.session_state["drawing_code"] == preset("lines").code


def test_the_generator_page_trains_towards_the_drawing(open_page: OpenPage) -> None:  # noqa: F811
    blobs = preset("two blobs")
    query = {"gen": "mlp", "target": "drawing", "draw": blobs.code, "losses": "wasserstein"}
    at = open_page("views/dynamics.py", query=query)
    assert_healthy(at)
    assert at.main.get_by_key("draw_preview") is not None
    assert any("about half a minute" in info.value for info in at.info)  # nothing trains before the button
    at.main.get_by_key("draw_train").click().run()
    assert_healthy(at)
    assert at.main.get_by_key("anim_wasserstein") is not None
    rows = at.dataframe[0].value
    assert list(rows["loss"]) == ["W1 (WGAN-GP)"] and "modes (of 1)" in rows
    before = shown(at)
    at.run()  # a second visit: the cached run, no button
    assert_healthy(at)
    assert shown(at) == before


# ------------------------------------------------------------------------------------------------- the CLI


def test_the_cli_estimates_a_drawn_picture_as_the_library_does(tmp_path: Path) -> None:
    from PIL import Image

    picture = np.zeros((GRID_SIDE * 8, GRID_SIDE * 8, 3), dtype=np.uint8)
    picture[80:200, 80:96, 0] = 255  # P: a red bar on the left
    picture[80:200, 240:256, 2] = 255  # Q: a blue bar on the right
    path = tmp_path / "drawing.png"
    Image.fromarray(picture).save(path)
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), "divergences", "draw", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    library = estimate_drawing(load_drawing(str(path)))
    (w1_line,) = [line for line in done.stdout.splitlines() if "exact empirical W1" in line]
    assert f"{round(library.exact_w1, 4)}" in w1_line
    (h2_line,) = [line for line in done.stdout.splitlines() if "squared Hellinger" in line]
    assert f"{round(library.estimates['hellinger'].mean, 4)}" in h2_line

    missing = subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), "divergences", "draw", "nothing.png"],
                             capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)  # fmt: skip
    assert missing.returncode != 0 and "no drawing 'nothing.png'" in missing.stderr
    assert "Traceback" not in missing.stderr
