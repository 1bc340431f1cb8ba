"""First-visit numbers stored ahead of time (vaegan.precomputed, `vaegan app precompute`): the fingerprint sees every
input, a stored value is what the computation gives, and the pages read it instead of computing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_app import make_app_files
from vaegan import latent, precomputed
from vaegan.checkpoint import load_model, save_model
from vaegan.classifier import ClassifierConfig, DigitClassifier
from vaegan.compare import compare_models
from vaegan.data import to_rgb32
from vaegan.likelihood import score_digits
from vaegan.precomputed import NumberStore, fingerprint, precompute_app_numbers
from vaegan.vae import VAE, VAEConfig
from vaegan.wgan import Generator, WGANConfig


def tiny_digits(n: int = 60, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, 784, generator=torch.Generator().manual_seed(seed)) < 0.2).float()


def test_the_fingerprint_sees_weights_data_and_settings() -> None:
    torch.manual_seed(0)
    vae, x = VAE(VAEConfig(latent_dim=4, hidden=16)), tiny_digits()
    key = fingerprint("kind", vae, x, 10)
    assert key == fingerprint("kind", vae, x.clone(), 10)  # values, not identity
    other = VAE(VAEConfig(latent_dim=4, hidden=16))
    other.load_state_dict(vae.state_dict())
    assert fingerprint("kind", other, x, 10) == key
    with torch.no_grad():
        other.decoder[-1].bias[0] += 1e-6  # one weight of a retrained file
    changed = x.clone()
    changed[0, 0] = 1 - changed[0, 0]
    assert len({key, fingerprint("kind", other, x, 10), fingerprint("kind", vae, changed, 10),
                fingerprint("kind", vae, x, 11), fingerprint("other", vae, x, 10),
                fingerprint("kind", vae, x.double(), 10), fingerprint("kind", vae, x.view(-1, 28, 28), 10)}) == 7


def test_the_store_returns_what_it_stored_and_ignores_what_is_not_its_own(tmp_path: Path) -> None:
    store = NumberStore(tmp_path)
    calls: list[int] = []

    def compute() -> list[float]:
        calls.append(1)
        return [1.5, 2.5]

    assert store.remember("k", ("a", 1), compute) == [1.5, 2.5] and calls == [1]  # nothing stored: computed
    key = fingerprint("k", "a", 1)
    store.put("k", key, [3.0], 0.1, {"what": "test"})
    assert store.remember("k", ("a", 1), compute) == [3.0] and calls == [1]
    assert store.remember("k", ("a", 2), compute) == [1.5, 2.5] and calls == [1, 1]  # other inputs: computed
    store.path("k", key).write_text("{not json")
    assert store.get("k", key) is None
    store.path("k", key).write_text(json.dumps({"format": "other", "fingerprint": key, "value": [9]}))
    assert store.get("k", key) is None


def test_precomputed_numbers_equal_the_pages_computations_and_are_then_read_not_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, hidden=16)).eval()
    generator = Generator(WGANConfig(latent_dim=8, width=8)).eval()
    classifier = DigitClassifier(ClassifierConfig(width=4, feature_dim=8)).eval()
    digits = tiny_digits(60)
    store = NumberStore(tmp_path)
    written = precompute_app_numbers(store, {"tiny": vae}, digits, generator=generator, classifier=classifier)
    kinds = ["compare", "latent-directions", "latent-lesson", "trust", "vae-kl-per-dim", "vae-measure",
             "vae-reference-scores"]  # fmt: skip
    assert sorted(item.kind for item in written) == kinds
    shuffled = precomputed.fixed_shuffle(digits)
    k = precomputed.draw_k("mlp")
    # what the pages compute, independently of the store
    scores = score_digits(vae, shuffled[: precomputed.REFERENCE_N], k)
    expected_scores = {name: v.tolist() for name, v in scores.items()}
    real = to_rgb32(shuffled.view(-1, 28, 28))
    n = precomputed.compare_n(real.shape[0])
    expected_compare = compare_models(vae, generator, classifier, real, n=n, seed=precomputed.COMPARE_SEED)

    expected_lesson = latent.direction_lesson(generator, classifier)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed although stored")

    for name in ("score_digits", "compare_models", "evaluate_neg_elbo", "evaluate_log_px", "lesson_directions",
                 "latent_direction_lesson"):  # fmt: skip
        monkeypatch.setattr(precomputed, name, refuse)
    lesson = precomputed.direction_lesson(store, generator, classifier)
    assert torch.equal(lesson.directions.directions, expected_lesson.directions.directions)
    assert torch.equal(lesson.axis_share, expected_lesson.axis_share) and lesson.eps == expected_lesson.eps
    assert torch.equal(precomputed.principal_directions(store, generator).variance,
                       expected_lesson.directions.variance)  # fmt: skip
    assert precomputed.reference_scores(store, vae, shuffled, precomputed.REFERENCE_N, k) == expected_scores
    assert precomputed.comparison(store, vae, generator, classifier, real, n) == json.loads(json.dumps(
        expected_compare))  # fmt: skip
    assert precomputed.kl_per_dim(store, vae, shuffled, precomputed.KL_N) == pytest.approx(
        vae.kl_per_dim(shuffled).tolist())  # fmt: skip
    neg_elbo, log_px = precomputed.measure(store, vae, shuffled[: precomputed.MEASURE_N], precomputed.MEASURE_K)
    assert neg_elbo > 0 and log_px < 0
    # Another model (a retrained file) is not served the stored numbers.
    with torch.no_grad():
        vae.decoder[-1].bias.add_(0.1)
    with pytest.raises(AssertionError, match="computed although stored"):
        precomputed.reference_scores(store, vae, shuffled, precomputed.REFERENCE_N, k)


def test_without_test_digits_the_model_samples_numbers_are_keyed_by_how_they_are_drawn(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, hidden=16)).eval()
    store = NumberStore(tmp_path)
    written = precompute_app_numbers(store, {"tiny": vae}, None)
    assert sorted(item.kind for item in written) == ["vae-kl-per-dim", "vae-reference-scores"]
    stored = precomputed.reference_scores(store, vae, None, precomputed.REFERENCE_N, precomputed.draw_k("mlp"))
    x = precomputed.reference_digits(vae, None)
    fresh = {name: v.tolist() for name, v in score_digits(vae, x, precomputed.draw_k("mlp")).items()}
    assert stored.keys() == fresh.keys()
    for name in fresh:
        assert stored[name] == pytest.approx(fresh[name], rel=1e-5)


def test_the_command_writes_the_files_the_pages_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    files = make_app_files(tmp_path / "app")
    out = tmp_path / "results"
    vaes = [str(files.checkpoints / "vae.safetensors"), str(files.checkpoints / "vae_mlp.safetensors")]
    run = subprocess.run(
        [sys.executable, "-m", "vaegan", "app", "precompute", "--data", str(files.digits), "--out", str(out),
         "--vae", vaes[0], "--vae", vaes[1], "--wgan", str(files.checkpoints / "wgan.safetensors"),
         "--classifier", str(files.checkpoints / "classifier.safetensors")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "wrote 12 files" in run.stderr
    stored = sorted(path.name.split("-")[0] for path in (out / precomputed.FOLDER).glob("*.json"))
    assert stored == ["compare"] * 2 + ["latent"] * 2 + ["trust"] * 2 + ["vae"] * 6
    # The pages, on the same files, read these numbers: computing them is made to fail.
    for name in ("score_digits", "compare_models", "evaluate_neg_elbo", "evaluate_log_px", "fidelity_report",
                 "comparison_images", "lesson_directions", "latent_direction_lesson"):  # fmt: skip
        monkeypatch.setattr(precomputed, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError("computed")))
    monkeypatch.setenv("VAEGAN_CHECKPOINTS", str(files.checkpoints))
    monkeypatch.setenv("VAEGAN_RESULTS", str(out))
    monkeypatch.setenv("VAEGAN_APP_DATA", str(files.digits))
    monkeypatch.setenv("VAEGAN_DATA", str(tmp_path / "no-downloads"))
    home = str(Path(__file__).resolve().parents[1] / "demo" / "Home.py")
    for page, query in (("views/compare.py", {}), ("views/vae.py", {}), ("views/vae.py", {"arch": "vae_mlp"}),
                        ("views/latent.py", {})):  # fmt: skip
        at = AppTest.from_file(home, default_timeout=120)
        at.switch_page(page)
        at.query_params.update(query)
        at.run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert not [e for e in at.error], (page, [e.value for e in at.error])
        if page == "views/latent.py":
            assert at.main.get_by_key("directions") is not None  # the section drew, from the stored directions
        elif query:
            assert "−ELBO (nats)" in [m.label for m in at.metric]


def test_bad_model_paths_give_one_line(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "vaegan", "app", "precompute", "--vae", str(tmp_path / "none"),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2 and "none of the --vae files exists" in run.stderr


def test_loaded_files_have_the_fingerprint_of_the_saved_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, hidden=16))
    save_model(vae, tmp_path / "v.safetensors", steps=1)
    assert fingerprint(load_model(tmp_path / "v.safetensors", kind="vae")) == fingerprint(vae)
    order = torch.randperm(5, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(precomputed.fixed_shuffle(torch.arange(5.0)).numpy(), torch.arange(5.0)[order])


def test_the_shipped_sample_based_numbers_belong_to_the_shipped_vaes() -> None:
    """results/precomputed holds the numbers the VAE page shows without test digits, for the shipped files: a
    retrained checkpoint must come with `vaegan app precompute` run again, or its visitors would wait."""
    from vaegan.vocabulary import APP_VAE_CHECKPOINTS, DEFAULT_CHECKPOINTS

    root = Path(__file__).resolve().parents[1]
    store = NumberStore(root / "results" / precomputed.FOLDER)
    for path in APP_VAE_CHECKPOINTS:
        vae = load_model(root / path, kind="vae")
        k = precomputed.draw_k(vae.config.arch)
        for kind, inputs in (
            ("vae-reference-scores", (vae, f"model samples, n={precomputed.REFERENCE_N}, seed=0", k)),
            ("vae-kl-per-dim", (vae, f"model samples, n={precomputed.KL_N}, seed=0")),
        ):
            missing = f"{kind} of {path}: run vaegan app precompute"
            assert store.get(kind, fingerprint(kind, *inputs)) is not None, missing
    generator = load_model(root / DEFAULT_CHECKPOINTS["wgan-generator"], kind="wgan-generator")
    classifier = load_model(root / DEFAULT_CHECKPOINTS["digit-classifier"], kind="digit-classifier")
    for kind, inputs in (("latent-directions", (generator,)), ("latent-lesson", (generator, classifier))):
        assert store.get(kind, fingerprint(kind, *inputs)) is not None, f"{kind}: run vaegan app precompute"
