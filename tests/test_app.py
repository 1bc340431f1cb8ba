"""Every page of the Streamlit app under `streamlit.testing.v1.AppTest`.

Each page renders without an exception, and changing any of its widgets changes what the page shows. The pages
run on tiny random-weight checkpoints and a tiny divergence sweep written into a temporary folder (the app reads
VAEGAN_CHECKPOINTS / VAEGAN_RESULTS / VAEGAN_APP_DATA), so these tests check the app, not how well the shipped
models are trained; one test at the end runs every page on the real `checkpoints/` and `results/` when they exist.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Widget

from demo.canvas import component_value as canvas_value
from tests.conftest import make_tiny_classifier
from vaegan.checkpoint import save_model
from vaegan.classifier import ClassifierConfig, DigitClassifier
from vaegan.divergences import (
    REFERENCE_SETTING,
    DynamicsConfig,
    SweepConfig,
    Toy2dConfig,
    dynamics_filename,
    run_dynamics,
    run_sweep,
    run_toy2d,
    theta_range,
)
from vaegan.latent import sample_latents
from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo
from vaegan.timeline import Timeline
from vaegan.vae import VAE, VAEConfig
from vaegan.wgan import Generator, WGANConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = str(REPO_ROOT / "demo" / "Home.py")
PAGES = [
    "views/home.py",
    "views/divergences.py",
    "views/dynamics.py",
    "views/samples.py",
    "views/latent.py",
    "views/interpolation.py",
    "views/vae.py",
    "views/compare.py",
]
# A sweep that trains in about a second: enough to have snapshots, heat maps and a reference-style variant.
TINY_SWEEP = dict(
    thetas=theta_range(0.0, 2.0, 5),
    iters=20,
    eval_size=512,
    snapshot_every=5,
    snapshot_eval_size=256,
    heatmap_thetas=(0.5, 1.0),
    heatmap_every=10,
    heatmap_size=11,
)
# Generator runs that train in well under a second: a few steps, enough frames to animate.
TINY_SHIFT = dict(steps=6, critic_steps=1, batch_size=32, width=8, heatmap_every=3, heatmap_size=7)
TINY_TOY = dict(steps=4, batch_size=32, width=8, frame_every=2, frame_samples=32, frame_arrows=8, grid_size=7)


# ------------------------------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class AppFiles:
    checkpoints: Path
    results: Path
    digits: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "VAEGAN_CHECKPOINTS": str(self.checkpoints),
            "VAEGAN_RESULTS": str(self.results),
            "VAEGAN_APP_DATA": str(self.digits),
        }


def lively_generator() -> Generator:
    """A tiny random generator whose images vary: a freshly initialised DCGAN draws an almost flat grey (pixel std
    0.06), so an ε edit would not change a single 8-bit pixel. Scaling each transposed convolution by 4 gives
    pixel std ~0.4, and every test that checks "the image changed" checks something visible."""
    generator = Generator(WGANConfig(latent_dim=16, width=8))
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, torch.nn.ConvTranspose2d):
                module.weight.mul_(4.0)
    return generator


def tiny_timeline(latent_dim: int = 16) -> Timeline:
    """Three frames of random images and FD / precision / recall at each: the sidecar the Samples page animates."""
    g = torch.Generator().manual_seed(1)
    return Timeline(
        [0, 100, 200],
        torch.randint(0, 256, (3, 16, 3, 32, 32), dtype=torch.uint8, generator=g),
        torch.randn(16, latent_dim, generator=g),
        [0, 100, 200],
        {"fid": [300.0, 120.0, 60.0], "precision": [0.0, 0.3, 0.5], "recall": [0.0, 0.2, 0.7]},
        {"source": "training", "every": 100, "real_vs_real_fid": 3.0, "real_vs_real_precision": 0.9,
         "real_vs_real_recall": 0.9, "n": 1000},
    )  # fmt: skip


def make_app_files(root: Path) -> AppFiles:
    """Tiny random-weight models (two VAEs for the architecture picker, a generator with its training timeline, a
    classifier), two tiny sweeps and 600 random binary test 'digits' under `root`. Both VAEs are MLPs: a conv
    decoder costs a hundred times more per image on a CPU, and every VAE page run decodes thousands of images;
    one test below runs the pages on a conv VAE."""
    files = AppFiles(root / "checkpoints", root / "results", root / "digits.npz")
    files.checkpoints.mkdir(parents=True, exist_ok=True)
    files.results.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_model(
        VAE(VAEConfig(latent_dim=8, hidden=32)),
        files.checkpoints / "vae.safetensors",
        dataset="random",
        steps=1,
        metrics={"valid_neg_elbo": 543.21},
    )
    save_model(lively_generator(), files.checkpoints / "wgan.safetensors", steps=1)
    save_model(VAE(VAEConfig(latent_dim=6, hidden=32)), files.checkpoints / "vae_mlp.safetensors", steps=1)
    tiny_timeline().save(files.checkpoints / "wgan_timeline.safetensors")
    save_model(make_tiny_classifier(), files.checkpoints / "classifier.safetensors")
    run_sweep(SweepConfig(**TINY_SWEEP)).save(files.results / "divergences.json")
    reference = dataclasses.replace(REFERENCE_SETTING, width=16, depth=2, **TINY_SWEEP)
    run_sweep(reference).save(files.results / "divergences_reference.json")
    for family in ("lines", "gaussian"):
        run_dynamics(DynamicsConfig(family=family, **TINY_SHIFT)).save(
            files.results / dynamics_filename("shift", family)
        )
    for target in ("8gaussians", "lines"):  # lines: what the page shows after switching from shift to mlp
        run_toy2d(Toy2dConfig(target=target, **TINY_TOY)).save(files.results / dynamics_filename("mlp", target))
    rng = np.random.default_rng(0)
    sizes = {"train": 40, "valid": 40, "test": 600}
    splits = {s: (rng.random((n, 28, 28)) < 0.2).astype(np.uint8) for s, n in sizes.items()}
    np.savez(files.digits, **splits)
    write_tiny_vae2d_files(files.checkpoints, torch.from_numpy(splits["test"]).float())
    return files


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    """The pages set torch's intra-op thread count for their own runs (demo.common.inference_only); torch keeps
    that value for threads it has not initialised yet, so give the rest of the test session its value back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def app_files(tmp_path_factory: pytest.TempPathFactory) -> AppFiles:
    return make_app_files(tmp_path_factory.mktemp("app"))


OpenPage = Callable[..., AppTest]


@pytest.fixture
def open_page(app_files: AppFiles, monkeypatch: pytest.MonkeyPatch) -> OpenPage:
    """open_page(path, query=None, env=None) -> an AppTest that has run the page (with query params)."""
    for name, value in app_files.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAEGAN_DATA", str(app_files.results / "no-downloads-here"))

    def open_(path: str, query: dict[str, str] | None = None, env: dict[str, str | None] | None = None) -> AppTest:
        for name, value in (env or {}).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        at = AppTest.from_file(HOME, default_timeout=120)
        if path != "views/home.py":  # Home is the default page
            # Before a first run AppTest finds a page by its file name, which is also each page's url_path here:
            # one run of the page instead of a run of Home and then one of the page.
            at.switch_page(path)
        at.query_params.update(query or {})
        return at.run()

    return open_


# -------------------------------------------------------------------------------------------------- helpers


def shown(at: AppTest) -> list[str]:
    """Everything the page displays except its widgets: markdown, captions, metrics, image URLs (content
    hashes), chart specs, tables. Two runs show the same page exactly when these lists are equal."""
    return [
        f"{node.type}: {node.proto}"
        for node in at.main
        if not isinstance(node, (Widget, Block)) and node.type not in ("exception",)
    ]


def widget_keys(at: AppTest) -> set[str]:
    return {node.key for node in at.main if isinstance(node, Widget) and node.key}


def has_element(at: AppTest, key: str) -> bool:
    try:
        at.main.get_by_key(key)
    except KeyError:
        return False
    return True


def assert_healthy(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [e.value for e in at.error] + [c.value for c in at.code]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- every page, every widget

# New values for the widgets of each page; each must change the page's output. The ε sliders of the latent page
# have keys that depend on the ranking ("eps<dim>"), so they are matched by prefix.
WIDGET_CHANGES: dict[str, dict[str, object]] = {
    "views/home.py": {},
    "views/divergences.py": {
        "family": "gaussian",
        "reference": True,
        "train": ["jensen-shannon"],
        "iters": 20,
        "n_theta": 5,
        "opt": "sgd",
        "lr": 1e-3,
        "show": ["wasserstein"],
        "theta": 0.5,
        "critic": "wasserstein",
        "draw_on": True,
    },
    "views/dynamics.py": {
        "gen": "mlp",
        "target": "gaussian",
        "theta_opt": "adam",
        "losses": ["wasserstein"],
        "gen_steps": 50,
        "gen_seed": 1,
    },
    "views/samples.py": {"seed": 3, "n": 16, "train_iter": 100},
    "views/latent.py": {"seed": 2, "sample": 3, "dim": 0, "eps*": 2.5, "latent_stroke": 12, "pc": 2, "pc_eps": -1.0},
    "views/interpolation.py": {"a": 5, "b": 6, "steps": 4, "mode": "lerp"},
    "views/vae.py": {
        "n_rec": 8,
        "digits": 1,
        "n_samples": 16,
        "sample_seed": 2,
        "rows": 2,
        "start": 3,
        "n_eval": 100,
        "k": 10,
        "arch": "vae_mlp",
        "vae_stroke": 12,
        "gap_source": "your drawing",
        "gap_k": 100,
        "gap_digit": 2,
        "vae2d_beta": 2.0,
        "vae2d_digits": 1_000,
    },
    "views/compare.py": {"arch": "vae_mlp", "n": 36, "vae_seed": 1, "gan_seed": 1, "a": 3, "b": 5, "trust_n": 64},
}
# Buttons (actions, tested on their own below) and the download button (its payload is the image shown).
ACTIONS = {"run", "regenerate", "reset", "download", "vae_clear", "vae_example", "latent_clear", "latent_example",
           "invert", "vae2d_train"}  # fmt: skip


def change_for(page: str, key: str) -> object:
    changes = WIDGET_CHANGES[page]
    if key in changes:
        return changes[key]
    prefixed = [pattern for pattern in changes if pattern.endswith("*") and key.startswith(pattern[:-1])]
    assert prefixed, f"{page}: widget {key!r} has no test that changes it (add it to WIDGET_CHANGES)"
    return changes[prefixed[0]]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_and_every_widget_changes_the_output(page: str, open_page: OpenPage) -> None:
    at = open_page(page)
    assert_healthy(at)
    baseline = shown(at)
    assert baseline, f"{page} shows nothing"
    assert shown(open_page(page)) == baseline, f"{page}: the same inputs must show the same page"
    keys = sorted(widget_keys(at) - ACTIONS)
    for key in keys:
        fresh = open_page(page)
        widget = fresh.main.get_by_key(key)
        value = change_for(page, key)
        assert widget.value != value, f"{page}: {key} already is {value!r}; pick another test value"
        widget.set_value(value).run()
        assert_healthy(fresh)
        assert shown(fresh) != baseline, f"{page}: setting {key} to {value!r} did not change the output"


# ---------------------------------------------------------------------------------------------- URL state


def test_page_state_comes_from_the_url(open_page: OpenPage) -> None:
    at = open_page("views/samples.py", query={"seed": "7", "n": "16"})
    assert at.main.get_by_key("seed").value == 7
    assert at.main.get_by_key("n").value == 16
    assert "16 samples, seed 7" in [c for img in at.image for c in img.captions]
    # The other direction, widget -> URL, is written by the browser: tests/test_browser.py checks it.

    shared = open_page("views/interpolation.py", query={"mode": "lerp", "steps": "5"})
    assert shared.main.get_by_key("mode").value == "lerp"
    assert len(shared.image[0].value) == 5


# ------------------------------------------------------------------------------------------------ actions


def test_regenerate_moves_to_the_next_seed_and_the_download_is_the_shown_grid(open_page: OpenPage) -> None:
    at = open_page("views/samples.py")
    before = shown(at)
    at.main.get_by_key("regenerate").click().run()
    assert_healthy(at)
    assert at.main.get_by_key("seed").value == 1
    assert shown(at) != before
    download = at.main.get_by_key("download")
    assert download.proto.label == "Download PNG"


def test_latent_edit_moves_exactly_the_slider_dims_and_reset_restores(open_page: OpenPage, app_files: AppFiles) -> None:
    at = open_page("views/latent.py", query={"seed": "4", "sample": "2"})
    before = shown(at)
    slider_keys = sorted(k for k in widget_keys(at) if k.startswith("eps"))
    assert len(slider_keys) >= 2
    at.main.get_by_key(slider_keys[0]).set_value(3.0)
    at.main.get_by_key(slider_keys[1]).set_value(-1.5).run()
    assert_healthy(at)
    # The caption reports ||z'||: check it against an independent computation of z + 3 e_a - 1.5 e_b.
    z = sample_latents(8, 16, 4)[2]
    edited = z.clone()
    edited[int(slider_keys[0][3:])] += 3.0
    edited[int(slider_keys[1][3:])] -= 1.5
    assert f"‖z'‖ = {edited.norm():.2f}" in texts(at)
    assert f"‖z‖ = {z.norm():.2f}" in texts(at)

    at.main.get_by_key("reset").click().run()
    assert_healthy(at)
    assert all(at.main.get_by_key(k).value == 0.0 for k in slider_keys)
    assert shown(at) == before


def test_training_your_own_critics_shows_your_run(open_page: OpenPage) -> None:
    at = open_page("views/divergences.py")
    at.main.get_by_key("train").set_value(["total-variation"])
    at.main.get_by_key("iters").set_value(20)
    at.main.get_by_key("n_theta").set_value(5)
    at.main.get_by_key("run").click().run()
    assert_healthy(at)
    assert "your run in this session" in texts(at)
    assert at.main.get_by_key("show").options == ["total-variation"]
    frames = re.findall(r'\\"name\\":\\"(\d+)\\"', str(at.main.get_by_key("sweep_chart").proto))
    assert frames, "the sweep chart should be animated: one frame per snapshot"


def test_dynamics_page_state_comes_from_the_url(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.divergences import Toy2dResult

    at = open_page("views/dynamics.py", query={"gen": "mlp", "target": "8gaussians"})
    assert_healthy(at)
    assert at.main.get_by_key("gen").value == "mlp" and at.main.get_by_key("target").value == "8gaussians"
    run = Toy2dResult.load(app_files.results / "dynamics_8gaussians.json")
    # One animation per loss, one frame per recorded step, and the table's last W1 is the run's.
    for name in run.config.losses:
        chart = str(at.main.get_by_key(f"anim_{name}").proto)
        assert re.findall(r'\\"name\\":\\"(\d+)\\"', chart) == [str(s) for s in run.steps]
    table = at.dataframe[0].value
    assert list(table["W1 at the end"]) == [round(run.w1[n][-1], 3) for n in run.config.losses]
    assert "MLP generator (2-D toy GAN) · P: ring of 8 Gaussians" in texts(at)

    shift = open_page("views/dynamics.py", query={"gen": "shift", "target": "gaussian"})
    assert_healthy(shift)
    assert "The Gaussians overlap" in texts(shift)
    assert shift.main.get_by_key("theta_opt").value == "sgd"


def test_dynamics_page_without_its_file_shows_the_command(open_page: OpenPage, tmp_path: Path) -> None:
    at = open_page("views/dynamics.py", env={"VAEGAN_RESULTS": str(tmp_path)})
    assert not at.exception
    assert any("No precomputed run" in info.value for info in at.info)
    command = "vaegan divergences train-generator --generator shift --target lines --out "
    assert any(c.value.startswith(command) and c.value.endswith("dynamics_shift_lines.json") for c in at.code)
    # The shipped folder has no Adam run for the Gaussians: the message names the flag that makes one.
    adam = open_page("views/dynamics.py", query={"target": "gaussian", "theta_opt": "adam"})
    assert not adam.exception
    assert any("--optimizer adam --out" in c.value and "dynamics_shift_gaussian_adam.json" in c.value
               for c in adam.code)  # fmt: skip


def test_training_your_own_generator_shows_your_run(open_page: OpenPage) -> None:
    at = open_page("views/dynamics.py")
    at.main.get_by_key("losses").set_value(["wasserstein", "js"])
    at.main.get_by_key("gen_steps").set_value(50)
    at.main.get_by_key("run").click().run()
    assert_healthy(at)
    assert "your run in this session" in texts(at)
    assert has_element(at, "anim_wasserstein") and has_element(at, "anim_js")  # one animation per trained loss
    assert not has_element(at, "anim_hellinger")
    assert list(at.dataframe[0].value["loss"]) == ["W1 (WGAN-GP)", "JS, minimax GAN"]


def test_vae_numbers_are_the_library_numbers(open_page: OpenPage, app_files: AppFiles) -> None:
    at = open_page("views/vae.py", query={"n_eval": "100", "k": "10"})
    assert_healthy(at)
    model = VAE.from_pretrained(str(app_files.checkpoints / "vae.safetensors"))
    with np.load(app_files.digits) as f:
        test = torch.from_numpy(f["test"]).float().reshape(-1, 784)
    x = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:100]]  # the page's subset
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["−ELBO (nats)"] == f"{evaluate_neg_elbo(model, x):.2f}"
    assert metrics["log p(x), K=10 (nats)"] == f"{evaluate_log_px(model, x, 10):.2f}"
    assert "valid_neg_elbo" in texts(at) and "543.210" in texts(at)


def test_divergence_table_shows_the_sweep_and_its_closed_forms(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.divergences import SweepResult, exact_divergence

    at = open_page("views/divergences.py")
    table = at.dataframe[0].value
    result = SweepResult.load(app_files.results / "divergences.json")
    assert list(table["θ"]) == result.thetas
    assert list(table["Wasserstein-1 estimate"]) == [round(v, 4) for v in result.estimates["wasserstein"]]
    assert list(table["Wasserstein-1 truth"]) == [round(abs(t), 4) for t in result.thetas]
    hellinger_truth = [exact_divergence("lines", "hellinger", t) for t in result.thetas]
    assert list(table["squared Hellinger truth"]) == [round(v, 4) for v in hellinger_truth]
    assert hellinger_truth[0] == 0.0 and all(math.isclose(v, 2.0) for v in hellinger_truth[1:])


# ------------------------------------------------------------------------------------ friendly failures


@pytest.mark.parametrize("page", PAGES[3:])  # the pages that need a checkpoint
def test_missing_checkpoint_shows_the_command_that_makes_it(page: str, open_page: OpenPage, tmp_path: Path) -> None:
    at = open_page(page, env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not at.exception
    assert any("checkpoint yet" in info.value for info in at.info)
    command = "vaegan train vae" if page.endswith(("vae.py", "compare.py")) else "vaegan train wgan"
    assert any(code.value.startswith(command) and str(tmp_path) in code.value for code in at.code)


@pytest.mark.parametrize(
    "content",
    [b"not a safetensors file at all", b"\x08\x00\x00\x00\x00\x00\x00\x00{}", None],
    ids=["garbage", "truncated", "wrong-kind"],
)
def test_corrupt_or_wrong_checkpoint_is_a_friendly_error(
    content: bytes | None, open_page: OpenPage, app_files: AppFiles, tmp_path: Path
) -> None:
    target = tmp_path / "wgan.safetensors"
    if content is None:  # a VAE file where the generator should be
        target.write_bytes((app_files.checkpoints / "vae.safetensors").read_bytes())
    else:
        target.write_bytes(content)
    at = open_page("views/samples.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not at.exception
    assert len(at.error) == 1 and "could not be loaded" in at.error[0].value
    assert any(code.value.startswith("vaegan train wgan") for code in at.code)

    home = open_page("views/home.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not home.exception


def test_missing_sweep_and_missing_digits_are_explained(open_page: OpenPage, tmp_path: Path) -> None:
    at = open_page("views/divergences.py", env={"VAEGAN_RESULTS": str(tmp_path)})
    assert not at.exception
    assert any(code.value.startswith("vaegan divergences sweep") for code in at.code)

    vae = open_page("views/vae.py", env={"VAEGAN_APP_DATA": None, "VAEGAN_DATA": str(tmp_path)})
    assert_healthy(vae)
    assert any("No test digits" in info.value for info in vae.info)
    assert vae.main.get_by_key("download_digits").proto.label == "Download the test digits"
    assert len(vae.image) >= 2  # samples and traversals still work without data


def test_classifier_labels_appear_under_strips(open_page: OpenPage, app_files: AppFiles, tmp_path: Path) -> None:
    for name in ("vae.safetensors", "wgan.safetensors"):
        (tmp_path / name).write_bytes((app_files.checkpoints / name).read_bytes())
    save_model(DigitClassifier(ClassifierConfig(width=4, feature_dim=8)), tmp_path / "classifier.safetensors")
    at = open_page("views/interpolation.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert_healthy(at)
    captions = [c for img in at.image[:2] for c in img.captions]
    assert captions and all(re.fullmatch(r"t=\d\.\d\d · \d \(\d\.\d\d\)", c) for c in captions), captions


# ------------------------------------------------------------------------------------- the shipped files


def test_every_page_on_the_real_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # results/ may still lack a sweep: the Divergences page then explains how to make one (checked: no error).
    needed = [REPO_ROOT / "checkpoints" / name for name in ("vae.safetensors", "wgan.safetensors")]
    missing = [str(p.relative_to(REPO_ROOT)) for p in needed if not p.exists()]
    if missing:
        pytest.skip(f"the shipped files are not there yet: {', '.join(missing)}")
    for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS", "VAEGAN_APP_DATA"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(HOME, default_timeout=300).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])


# ------------------------------------------------------------------- drawing, inversion, comparison, timeline


def metrics_of(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_drawing_on_the_vae_page_is_read_by_the_library(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.classifier import predict_digits
    from vaegan.data import to_rgb32
    from vaegan.drawing import EXAMPLE_DIGITS, prepare_digit, read_with_vae, render_strokes

    at = open_page("views/vae.py")
    assert any("Draw a digit" in info.value for info in at.info)
    at.session_state["vae_canvas_0"] = canvas_value(EXAMPLE_DIGITS["3"])
    at.run()
    assert_healthy(at)
    vae = VAE.from_pretrained(str(app_files.checkpoints / "vae.safetensors"))
    digit = prepare_digit(render_strokes(EXAMPLE_DIGITS["3"], 280, 26.0))
    reading = read_with_vae(vae, digit, k=100)
    assert metrics_of(at)["your digit's −ELBO (nats)"] == f"{reading.neg_elbo:.1f}"
    assert metrics_of(at)["your digit's log p(x), K=100"] == f"{reading.log_px:.1f}"
    classifier = DigitClassifier.from_pretrained(str(app_files.checkpoints / "classifier.safetensors"))
    label, probability = predict_digits(classifier, to_rgb32(digit.binary.view(1, 28, 28)))
    assert f"reads **{int(label[0])}** ({float(probability[0]):.2f}) in your digit" in texts(at)
    assert at.main.get_by_key("drawn_histogram") is not None
    first = shown(at)

    at.session_state["vae_canvas_0"] = canvas_value(EXAMPLE_DIGITS["0"])  # draw something else
    at.run()
    assert_healthy(at)
    assert shown(at) != first and metrics_of(at)["your digit's −ELBO (nats)"] != f"{reading.neg_elbo:.1f}"

    at.main.get_by_key("vae_clear").click().run()  # a fresh, empty canvas
    assert_healthy(at)
    assert any("Draw a digit" in info.value for info in at.info)
    assert "your digit's log p(x), K=100" not in metrics_of(at)
    at.main.get_by_key("vae_example").click().run()  # the example's own strokes, until you draw on them
    assert_healthy(at)
    example = prepare_digit(render_strokes(EXAMPLE_DIGITS["7"], 280, 26.0))
    assert metrics_of(at)["your digit's −ELBO (nats)"] == f"{read_with_vae(vae, example, k=100).neg_elbo:.1f}"
    at.main.get_by_key("vae_example").click().run()  # the next example
    following = prepare_digit(render_strokes(EXAMPLE_DIGITS["3"], 280, 26.0))
    assert metrics_of(at)["your digit's −ELBO (nats)"] == f"{read_with_vae(vae, following, k=100).neg_elbo:.1f}"


def test_the_architecture_picker_offers_only_the_files_that_exist(
    open_page: OpenPage, app_files: AppFiles, tmp_path: Path
) -> None:
    at = open_page("views/vae.py", query={"arch": "vae_mlp"})
    assert_healthy(at)
    picker = at.main.get_by_key("arch")
    assert picker.options == ["vae", "vae_mlp"]
    assert "**vae_mlp**: mlp, 6 latent dims (`vae_mlp.safetensors`)" in texts(at)
    assert metrics_of(at)["latent dims"] == "6"  # vae_mlp.safetensors, from the URL

    # A conv VAE alone (as the lead's next vae.safetensors): the picker offers it and says how to make the other.
    torch.manual_seed(0)
    save_model(VAE(VAEConfig(arch="conv", latent_dim=8, hidden=32)), tmp_path / "vae.safetensors")
    only = open_page("views/vae.py", query={"n_eval": "100", "k": "1"}, env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert_healthy(only)
    assert only.main.get_by_key("arch").options == ["vae"] and "**vae**: conv, 8 latent dims" in texts(only)
    command = f"vaegan train vae --arch mlp --out {tmp_path / 'vae_mlp.safetensors'}"
    assert f"create it with `{command}`" in texts(only)
    only.main.get_by_key("vae_example").click().run()
    assert_healthy(only)
    assert "your digit's log p(x), K=10" in metrics_of(only)  # the conv VAE's smaller K
    compared = open_page("views/compare.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not compared.exception and any("checkpoint yet" in info.value for info in compared.info)  # no WGAN


def test_inversion_on_the_latent_page_becomes_the_sample_the_sliders_edit(open_page: OpenPage) -> None:
    at = open_page("views/latent.py")
    assert at.main.get_by_key("invert").disabled  # nothing drawn yet
    at.main.get_by_key("latent_example").click().run()
    at.main.get_by_key("invert").click().run()
    assert_healthy(at)
    inversion = at.session_state["inverted"]
    assert inversion["steps"] == 300 and inversion["z"].shape == (16,)
    assert "G(z), z found for your digit" in [c for img in at.image for c in img.captions]
    assert f"‖z‖ = {inversion['z'].norm():.2f}" in texts(at)
    before = shown(at)
    slider = sorted(k for k in widget_keys(at) if k.startswith("eps"))[0]
    at.main.get_by_key(slider).set_value(2.0).run()
    assert_healthy(at)
    edited = inversion["z"].clone()
    edited[int(slider[3:])] += 2.0
    assert f"‖z'‖ = {edited.norm():.2f}" in texts(at) and shown(at) != before
    at.main.get_by_key("use_drawn").set_value(False).run()  # back to the seeded samples
    assert "G(z), z found for your digit" not in [c for img in at.image for c in img.captions]

    at.switch_page("views/interpolation.py").run()  # the same session: the Interpolation page can start from it
    assert_healthy(at)
    walk = shown(at)
    at.main.get_by_key("from_drawn").set_value(True).run()
    assert_healthy(at)
    assert shown(at) != walk


def test_the_comparison_shows_the_library_numbers_for_both_models(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.compare import compare_models
    from vaegan.data import to_rgb32

    at = open_page("views/compare.py")
    assert_healthy(at)
    with np.load(app_files.digits) as f:
        test = torch.from_numpy(f["test"]).float()
    real = to_rgb32(test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))])
    models = [VAE.from_pretrained(str(app_files.checkpoints / "vae.safetensors")),
              Generator.from_pretrained(str(app_files.checkpoints / "wgan.safetensors")),
              DigitClassifier.from_pretrained(str(app_files.checkpoints / "classifier.safetensors"))]  # fmt: skip
    expected = compare_models(*models, real, n=300, seed=0)
    values = metrics_of(at)
    for label, key in (("VAE", "vae"), ("WGAN", "wgan")):
        assert values[f"{label} Fréchet distance ↓"] == f"{expected[key]['fid']:.3f}"
        assert values[f"{label} recall ↑"] == f"{expected[key]['recall']:.3f}"
    assert "n = 300 samples of each model" in texts(at)
    table = at.dataframe[0].value
    assert list(table.index) == ["real vs real (floor)", "VAE (mlp)", "WGAN-GP"]

    holdout = open_page("views/compare.py", env={"VAEGAN_APP_HOLDOUT": f"{app_files.digits}@0:40"})
    assert_healthy(holdout)
    assert "n = 20 samples" in texts(holdout)


def test_the_timeline_slider_shows_the_generator_at_that_iteration(
    open_page: OpenPage, app_files: AppFiles, tmp_path: Path
) -> None:
    at = open_page("views/samples.py", query={"train_iter": "100"})
    assert_healthy(at)
    frame = at.main.get_by_key("timeline_frame")
    assert frame is not None and "after 100 generator iterations" in [c for img in at.image for c in img.captions]
    before = shown(at)
    at.main.get_by_key("train_iter").set_value(200).run()
    assert "after 200 generator iterations" in [c for img in at.image for c in img.captions]
    assert shown(at) != before
    assert at.main.get_by_key("timeline_chart") is not None

    for name in ("wgan.safetensors", "classifier.safetensors"):
        (tmp_path / name).write_bytes((app_files.checkpoints / name).read_bytes())
    missing = open_page("views/samples.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert_healthy(missing)
    assert "No training timeline" in texts(missing) and "timeline from-grids" in texts(missing)
    (tmp_path / "wgan_timeline.safetensors").write_bytes(b"garbage")
    corrupt = open_page("views/samples.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not corrupt.exception
    assert any("timeline could not be read" in e.value for e in corrupt.error)


@pytest.mark.parametrize(("page", "key"), [
    ("views/divergences.py", "family"), ("views/divergences.py", "opt"), ("views/dynamics.py", "gen"),
    ("views/dynamics.py", "theta_opt"), ("views/interpolation.py", "mode"), ("views/latent.py", "sample"),
    ("views/vae.py", "arch"),
])  # fmt: skip
def test_an_empty_url_value_of_a_required_choice_falls_back_to_its_default(
    open_page: OpenPage, app_files: AppFiles, page: str, key: str
) -> None:
    """`?sample=` made Streamlit hand the page None for a required choice, and `int(None)` crashed the Latent page
    (found by tests/test_fuzz.py); every required choice now falls back to its default (common.pick_one)."""
    at = open_page(page, query={key: ""})
    assert not at.exception, [e.value for e in at.exception]


def test_the_trust_section_shows_the_library_report(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.classifier import classifier_features
    from vaegan.compare import comparison_images
    from vaegan.data import to_rgb32
    from vaegan.fidelity import DEFAULT_RESAMPLES, fidelity_report, summary_rows

    at = open_page("views/compare.py", query={"trust_n": "128"})
    assert_healthy(at)
    with np.load(app_files.digits) as f:
        test = torch.from_numpy(f["test"]).float()
    real = to_rgb32(test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))])
    vae = VAE.from_pretrained(str(app_files.checkpoints / "vae.safetensors"))
    generator = Generator.from_pretrained(str(app_files.checkpoints / "wgan.safetensors"))
    classifier = DigitClassifier.from_pretrained(str(app_files.checkpoints / "classifier.safetensors"))
    features = {name: classifier_features(classifier, images)[:128]
                for name, images in comparison_images(vae, generator, real, n=300, seed=0).items()}  # fmt: skip
    expected = fidelity_report(features.pop("reference"), features, resamples=DEFAULT_RESAMPLES, seed=0)
    (table,) = [frame.value for frame in at.dataframe if "FD 95% CI" in frame.value.columns]
    rows = summary_rows(expected["sets"], {"floor": "real vs real (floor)", "vae": "VAE", "wgan": "WGAN-GP"})
    assert table.reset_index().to_dict("records") == rows
    assert at.main.get_by_key("fd_curve") is not None and not at.warning  # n = 128 > d = 16: no rank warning
    nearest = [c for img in at.image for c in img.captions if "nearest training digits" in c]
    assert len(nearest) == 2 and "among the 40 training digits" in texts(at)

    small = open_page("views/compare.py", env={"VAEGAN_APP_HOLDOUT": f"{app_files.digits}@0:30"})  # n = 15 <= 16
    assert_healthy(small)
    assert any("rank <= 14 < 16" in w.value for w in small.warning)

    # 6 digits: halves of 3 are too few for k = 3 (this crashed the page before the trust section came)
    tiny = open_page("views/compare.py", env={"VAEGAN_APP_HOLDOUT": f"{app_files.digits}@0:6"})
    assert_healthy(tiny)
    assert any("Only 6 held-out digits: the metrics need at least 8" in i.value for i in tiny.info)
    assert "Walking through each latent space" in [h.value for h in tiny.subheader]  # the rest of the page is there
    smallest = open_page("views/compare.py", env={"VAEGAN_APP_HOLDOUT": f"{app_files.digits}@0:8"})  # n = 4
    assert_healthy(smallest)
    assert has_element(smallest, "trust") and any("rank <= 3 < 16" in w.value for w in smallest.warning)

    untrained = open_page("views/compare.py", env={"VAEGAN_APP_TRAIN": str(app_files.results / "none.npz")})
    assert_healthy(untrained)
    assert any("No training digits" in i.value for i in untrained.info)
# ------------------------------------------------------------------ latent lessons: directions and the gap


def test_the_direction_slider_shows_the_library_strip_and_shares(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.latent import direction_lesson, direction_strip

    at = open_page("views/latent.py", query={"seed": "4", "sample": "2", "pc": "1", "pc_eps": "1.5"})
    assert_healthy(at)
    generator = Generator.from_pretrained(str(app_files.checkpoints / "wgan.safetensors")).eval()
    classifier = DigitClassifier.from_pretrained(str(app_files.checkpoints / "classifier.safetensors")).eval()
    lesson = direction_lesson(generator, classifier)
    z = sample_latents(8, 16, 4)[2]
    strip = direction_strip(generator, z, lesson.directions.directions[1:2], [float(e) for e in range(-5, 5)])[0]
    expected = list(at.main.get_by_key("direction_strip").image[0].captions)
    assert expected[0].startswith("v1, ε=-5") and len(expected) == strip.shape[0]
    caption = next(c.value for c in at.caption if "Principal directions: median" in c.value)
    assert f"median {float(lesson.direction_share.median()):.2f}" in caption
    assert f"best {float(lesson.axis_share.max()):.2f}" in caption
    assert at.main.get_by_key("direction_share_chart") is not None
    before = at.main.get_by_key("direction_strip").image[0].proto
    at.main.get_by_key("pc").set_value(3).run()
    assert_healthy(at)
    assert at.main.get_by_key("direction_strip").image[0].proto != before
    assert at.main.get_by_key("direction_strip").image[0].captions[0].startswith("v3, ε=-5")


def test_the_gap_panel_shows_the_library_numbers(open_page: OpenPage, app_files: AppFiles) -> None:
    from vaegan.drawing import EXAMPLE_DIGITS
    from vaegan.gap import vae_gap_report

    at = open_page("views/vae.py", query={"gap_k": "100", "gap_digit": "5"})
    assert_healthy(at)
    model = VAE.from_pretrained(str(app_files.checkpoints / "vae.safetensors"))
    with np.load(app_files.digits) as f:
        test = torch.from_numpy(f["test"]).float().reshape(-1, 784)
    x = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))][5]  # the page's digit #5
    report = vae_gap_report(model, x, k=100)
    metrics = metrics_of(at)
    assert metrics["log p̂_K at K=100"] == f"{report.log_px_at_k:.2f} ± {report.log_px_se_at_k:.2f}"
    assert metrics["ELBO (mean log w)"] == f"{report.elbo:.2f} ± {report.elbo_se:.2f}"
    assert metrics["gap: log p̂_K − ELBO"] == f"{report.gap:.2f} ± {report.gap_se:.2f}" and report.gap >= 0
    assert metrics["effective sample size"] == f"{report.ess:.1f} of 100"
    assert at.main.get_by_key("gap_curve") is not None and at.main.get_by_key("gap_weights") is not None
    assert any("KL" in latex.value for latex in at.latex)

    at.main.get_by_key("gap_source").set_value("your drawing").run()  # nothing drawn: says so, keeps a test digit
    assert_healthy(at)
    assert any("Draw a digit at the top" in info.value for info in at.info)
    at.session_state["vae_canvas_0"] = canvas_value(EXAMPLE_DIGITS["3"])
    at.run()
    assert_healthy(at)
    assert "your drawing (binarized)" in at.main.get_by_key("gap_digit_picture").image[0].captions
    assert metrics_of(at)["log p̂_K at K=100"] != metrics["log p̂_K at K=100"]


@pytest.mark.parametrize("arch", ["vae_mlp", "vae"])
def test_the_gap_panel_on_the_shipped_vaes(arch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    needed = [REPO_ROOT / "checkpoints" / f"{arch}.safetensors", REPO_ROOT / "checkpoints" / "wgan.safetensors"]
    if not all(p.exists() for p in needed):
        pytest.skip(f"the shipped files are not there: {arch}.safetensors")
    for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS", "VAEGAN_APP_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAEGAN_DATA", str(REPO_ROOT / "no-downloads-here"))  # no test digits: model samples
    at = AppTest.from_file(HOME, default_timeout=300)
    at.switch_page("views/vae.py")
    at.query_params.update({"arch": arch, "gap_k": "10"})
    at.run()
    assert_healthy(at)
    metrics = metrics_of(at)
    value, error = (float(v) for v in metrics["gap: log p̂_K − ELBO"].split(" ± "))
    assert value >= -2 * error
    assert "binarized model sample #0" in at.main.get_by_key("gap_digit_picture").image[0].captions


def test_the_directions_on_the_shipped_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    needed = [REPO_ROOT / "checkpoints" / f for f in ("wgan.safetensors", "classifier.safetensors")]
    if not all(p.exists() for p in needed):
        pytest.skip("the shipped generator or classifier is not there")
    for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS", "VAEGAN_APP_DATA"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(HOME, default_timeout=300)
    at.switch_page("views/latent.py")
    at.query_params.update({"pc": "4"})
    at.run()
    assert_healthy(at)
    assert at.main.get_by_key("direction_strip").image[0].captions[0].startswith("v4, ε=-5")
    assert at.main.get_by_key("direction_share_chart") is not None
# ------------------------------------------------------------------------------------- the 2-D VAE (VAE page)


def write_tiny_vae2d_files(folder: Path, digits: torch.Tensor) -> None:
    """A tiny 2-D VAE for every shipped β (500 training + 100 held-out digits, one epoch, 16 wide), labelled at
    random: the VAE page's "Train a VAE now" shows them at once, as it shows the real shipped files."""
    from vaegan.vae2d import VAE2D_BETAS, Vae2dConfig, save_vae2d, split_digits, train_vae2d, vae2d_filename

    labels = torch.randint(0, 10, (digits.shape[0],), generator=torch.Generator().manual_seed(0))
    for beta in VAE2D_BETAS:
        config = Vae2dConfig(beta=beta, train_digits=500, held_out=100, epochs=1, hidden=16)
        result = train_vae2d(config, split_digits(digits, config, labels=labels, source="random"))
        save_vae2d(result, folder / vae2d_filename(beta), command=f"python cli.py train vae2d --beta {beta:g}")


def test_the_2d_vae_section_shows_a_shipped_beta_and_places_the_drawn_digit(
    open_page: OpenPage, app_files: AppFiles
) -> None:
    from vaegan.drawing import EXAMPLE_DIGITS, prepare_digit, render_strokes
    from vaegan.vae2d import encode_digit, load_vae2d

    at = open_page("views/vae.py", query={"vae2d_beta": "2"})  # the URL holds β as the slider shows it
    assert_healthy(at)
    shipped = load_vae2d(app_files.checkpoints / "vae2d_beta2.safetensors")
    assert metrics_of(at)["held-out −ELBO"] == f"{shipped.neg_elbo:.1f} nats"
    assert metrics_of(at)["KL(q(z|x) ‖ p(z))"] == f"{shipped.kl:.2f} nats"
    assert "shipped `" in texts(at) and "vae2d_beta2.safetensors" in texts(at)
    assert at.main.get_by_key("vae2d_manifold") is not None and at.main.get_by_key("vae2d_terms") is not None
    assert at.main.get_by_key("vae2d_train").proto.disabled  # nothing to train: the file is there
    scatter = at.main.get_by_key("vae2d_scatter").proto.spec
    assert '"your digit"' not in scatter and "Draw a digit on the canvas above" in texts(at)

    at.session_state["vae_canvas_0"] = canvas_value(EXAMPLE_DIGITS["3"])
    at.run()
    assert_healthy(at)
    digit = prepare_digit(render_strokes(EXAMPLE_DIGITS["3"], 280, 26.0))
    (z1, z2), _ = encode_digit(shipped.model, digit.binary)
    assert f"Your digit lands at z = ({z1:.2f}, {z2:.2f})" in texts(at)
    assert '"your digit"' in at.main.get_by_key("vae2d_scatter").proto.spec


def test_an_unshipped_beta_trains_on_the_page_as_the_library_trains_it(
    open_page: OpenPage, app_files: AppFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_vae2d import synthetic_digits
    from vaegan.classifier import DigitClassifier
    from vaegan.data import load_test_digits
    from vaegan.vae2d import Vae2dConfig, split_digits, train_vae2d

    digits, _ = synthetic_digits(1_500)
    data = tmp_path / "digits.npz"
    small = digits[:10].view(-1, 28, 28).numpy().astype(np.uint8)
    np.savez(data, train=small, valid=small, test=digits.view(-1, 28, 28).numpy().astype(np.uint8))
    # A short run (10 epochs of 500 digits) for the page and for the library alike: the AppTest runs in this process
    monkeypatch.setattr("vaegan.vae2d.DIGIT_PASSES", 5_000)
    query = {"vae2d_beta": "0.25", "vae2d_digits": "500"}
    at = open_page("views/vae.py", query=query, env={"VAEGAN_APP_DATA": str(data)})
    assert_healthy(at)
    assert any("β = 0.25 with 500 training digits is not trained yet" in info.value for info in at.info)
    at.main.get_by_key("vae2d_train").click().run()
    assert_healthy(at)
    config = Vae2dConfig.for_digits(500, beta=0.25)
    classifier = DigitClassifier.from_pretrained(str(app_files.checkpoints / "classifier.safetensors"))
    expected = train_vae2d(config, split_digits(load_test_digits(str(data)), config, classifier=classifier))
    assert metrics_of(at)["held-out −ELBO"] == f"{expected.neg_elbo:.1f} nats"
    assert "trained now on this server" in texts(at)
    # the session's run joins the shipped βs in the terms chart (same digit count)
    assert '"0.25"' in at.main.get_by_key("vae2d_terms").proto.spec

    at.main.get_by_key("vae2d_digits").set_value(9_000).run()  # more digits than the file holds
    at.main.get_by_key("vae2d_train").click().run()
    assert not at.exception
    assert any("need 10,000 digits" in warning.value for warning in at.warning)


@pytest.mark.parametrize(("page", "key"), [("views/vae.py", "digits"), ("views/compare.py", "a")])
@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e400"])
def test_a_number_too_large_for_an_integer_widget_falls_back_to_its_default(
    open_page: OpenPage, page: str, key: str, value: str
) -> None:
    """?digits=inf crashed the VAE page inside Streamlit (int(inf) raised OverflowError while seeding the widget
    from the URL; found by tests/test_fuzz.py); demo/Home.py makes that the ValueError Streamlit already handles."""
    at = open_page(page, query={key: value})
    assert not at.exception, [e.message for e in at.exception]
    assert key not in at.query_params
