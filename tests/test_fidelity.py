"""How far a Fréchet distance can be trusted (vaegan.fidelity): the batched FD against torchmetrics and scipy, the
bootstrap intervals against fresh samples of Gaussians whose FD is known in closed form, FD∞ against the truth and
against large-n FD on the shipped models, KID's unbiasedness, the rank warning, nearest training digits, and
`eval wgan --bootstrap/--kid/--fd-infinity` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, SHARED_DATA, smooth_images
from tests.test_metrics import scipy_frechet
from vaegan.checkpoint import save_model
from vaegan.classifier import DigitClassifier, classifier_features
from vaegan.errors import ConfigError, DataError
from vaegan.fidelity import (
    TRUST_COLUMNS,
    bootstrap_scores,
    fidelity_report,
    format_table,
    frechet_curve,
    frechet_from_features,
    frechet_from_moments,
    kernel_inception_distance,
    nearest_training_digits,
    percentile_interval,
    rank_warning,
    resampled_moments,
    summary_rows,
)
from vaegan.limits import MAX_BOOTSTRAP_RESAMPLES
from vaegan.metrics import frechet_distance


def gaussian_pair(n: int, d: int, seed: int, shift: float = 0.25, scale: float = 1.2) -> tuple[torch.Tensor, ...]:
    """n rows of N(0, I) and n rows of N(shift, scale² I) in d dims."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift
    return a, b


def gaussian_fd(d: int, shift: float = 0.25, scale: float = 1.2) -> float:
    """FD of N(0, I) and N(shift, scale² I): d shift² + Tr(I + scale² I - 2 scale I)."""
    return d * shift**2 + d * (1 - scale) ** 2


# ------------------------------------------------------------------------------------------ the batched FD


def test_fast_fd_is_the_torchmetrics_fd_of_the_same_features(tiny_classifier: DigitClassifier) -> None:
    real, fake = smooth_images(300, seed=0), smooth_images(250, seed=1) * 0.8 + 0.1
    fast = frechet_from_features(classifier_features(tiny_classifier, real), classifier_features(tiny_classifier, fake))
    assert fast > 1e-3
    assert fast == pytest.approx(frechet_distance(tiny_classifier, real, fake), rel=1e-6)


def test_batched_fd_matches_scipy_one_pair_at_a_time() -> None:
    a, b = gaussian_pair(300, 12, seed=0)
    rows = torch.stack([torch.randperm(300, generator=torch.Generator().manual_seed(s))[:200] for s in range(4)])
    batched = frechet_from_moments(*resampled_moments(a, rows), *resampled_moments(b, rows))
    for i in range(4):
        expected = scipy_frechet(a[rows[i]].numpy(), b[rows[i]].numpy())
        assert float(batched[i]) == pytest.approx(expected, rel=1e-9)


def test_fd_with_a_singular_covariance_still_matches_scipy() -> None:
    a, b = gaussian_pair(10, 16, seed=1)  # n <= d: both covariances have rank 9
    assert frechet_from_features(a, b) == pytest.approx(scipy_frechet(a.numpy(), b.numpy()), rel=1e-6)


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # scipy says so of the constant columns, and is exact
def test_bootstrap_fds_are_exact_with_constant_columns_dropped() -> None:
    # Dead ReLU units: columns constant in both sets, at different values (they add only to the mean term).
    a, b = gaussian_pair(120, 6, seed=2)
    a = torch.cat([a, torch.zeros(120, 3), torch.full((120, 1), 2.0)], 1)
    b = torch.cat([b, torch.zeros(120, 3), torch.full((120, 1), 0.5)], 1)
    values = bootstrap_scores(a, {"x": b}, resamples=5, seed=4, precision_recall=False)["x"]["fid"]
    generator = torch.Generator().manual_seed(4)  # the draws bootstrap_scores makes: reference rows, then the set's
    rows_a = torch.randint(0, 120, (5, 120), generator=generator)
    rows_b = torch.randint(0, 120, (5, 120), generator=generator)
    for i in range(5):
        assert float(values[i]) == pytest.approx(scipy_frechet(a[rows_a[i]].numpy(), b[rows_b[i]].numpy()), rel=1e-9)
    curve = frechet_curve(a, {"x": b})["x"]["fid"]
    assert curve[-1] == pytest.approx(scipy_frechet(a.numpy(), b.numpy()), rel=1e-9)  # the whole sets at n


# ------------------------------------------------------------------------------------------ bootstrap


def test_the_interval_covers_the_fd_of_a_fresh_larger_sample_in_most_seeds() -> None:
    covered = 0
    for seed in range(20):
        a, b = gaussian_pair(400, 8, seed)
        fresh_a, fresh_b = gaussian_pair(4000, 8, seed + 1000)
        values = bootstrap_scores(a, {"x": b}, resamples=200, seed=seed)["x"]["fid"]
        low, high = percentile_interval(values, frechet_from_features(a, b))
        covered += low <= frechet_from_features(fresh_a, fresh_b) <= high
    assert covered >= 16, f"a 95% interval covered the fresh FD in {covered} of 20 seeds"


def test_the_bias_shift_is_what_makes_the_interval_cover_where_fd_is_biased() -> None:
    # d = 32 with n = 200: FD's small-sample bias is larger than its spread. A fresh sample of the same size is
    # inside the shifted interval in most seeds; the plain percentile interval lies above it every time.
    shifted = plain = 0
    for seed in range(10):
        a, b = gaussian_pair(200, 32, seed)
        fresh = frechet_from_features(*gaussian_pair(200, 32, seed + 1000))
        values = bootstrap_scores(a, {"x": b}, resamples=200, seed=seed)["x"]["fid"]
        low, high = percentile_interval(values, frechet_from_features(a, b))
        shifted += low <= fresh <= high
        plain_low, plain_high = torch.quantile(values, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        plain += plain_low <= fresh <= plain_high
    assert shifted >= 8 and plain <= 1, (shifted, plain)


def test_precision_recall_resamples_stay_near_the_full_sample_values() -> None:
    a, b = gaussian_pair(300, 4, seed=3)
    report = fidelity_report(a, {"x": b}, resamples=100, kid=False, curve=False)
    row = report["sets"]["x"]
    for name in ("precision", "recall"):
        low, high = row[f"{name}_ci"]
        assert 0.0 <= low < row[name] < high <= 1.0 and high - low < 0.2, (name, row)


def test_identical_resampling_for_the_same_seed_and_a_limit_on_resamples() -> None:
    a, b = gaussian_pair(50, 3, seed=0)
    first = bootstrap_scores(a, {"x": b}, resamples=20, seed=5)["x"]["fid"]
    assert torch.equal(first, bootstrap_scores(a, {"x": b}, resamples=20, seed=5)["x"]["fid"])
    with pytest.raises(ConfigError, match="over the limit"):
        bootstrap_scores(a, {"x": b}, resamples=MAX_BOOTSTRAP_RESAMPLES + 1)


# ------------------------------------------------------------------------------------------ FD against n


def test_fd_infinity_recovers_the_closed_form_fd_of_gaussians() -> None:
    truth = gaussian_fd(32)
    infinities, at_n = [], []
    for seed in range(6):
        a, b = gaussian_pair(800, 32, seed)
        fitted = frechet_curve(a, {"x": b}, seed=seed)["x"]
        infinities.append(fitted["fid_infinity"])
        at_n.append(fitted["fid"][-1])
    bias_at_n = np.mean(at_n) - truth
    assert bias_at_n > 0.5  # FD at n = 800 is well above the truth ...
    assert abs(np.mean(infinities) - truth) < 0.2 * bias_at_n  # ... and the extrapolation removes most of that


@pytest.fixture(scope="module")
def shipped_features() -> dict[str, torch.Tensor]:
    """Classifier features of 6,000 real test digits and 3,000 WGAN samples, from the shipped checkpoints."""
    from vaegan.data import to_rgb32
    from vaegan.metrics import generated_images
    from vaegan.wgan import Generator

    if not (SHARED_DATA / "mnist_test.npz").exists():
        pytest.skip(f"real MNIST test digits not found at {SHARED_DATA} (see docs/data.md)")
    classifier = DigitClassifier.from_pretrained(str(REPO_ROOT / "checkpoints" / "classifier.safetensors"))
    generator = Generator.from_pretrained(str(REPO_ROOT / "checkpoints" / "wgan.safetensors"))
    with np.load(SHARED_DATA / "mnist_test.npz") as f:
        digits = f["X"][np.random.default_rng(0).permutation(10_000)[:6000]]  # the file's halves differ: shuffle
    return {
        "real": classifier_features(classifier, to_rgb32(digits)),
        "wgan": classifier_features(classifier, generated_images(generator, generator.latent_dim, 3000, seed=0)),
    }


def test_fd_infinity_predicts_the_large_n_fd_on_the_shipped_features(shipped_features: dict) -> None:
    reference, floor, wgan = shipped_features["real"][:3000], shipped_features["real"][3000:], shipped_features["wgan"]
    n, large = 1000, 3000
    report = fidelity_report(reference[:n], {"floor": floor[:n], "wgan": wgan[:n]}, resamples=200, kid=False)
    for name, others in (("floor", floor), ("wgan", wgan)):
        row = report["sets"][name]
        large_fd = frechet_from_features(reference, others)
        predicted = row["fid_infinity"] + row["fid_slope"] / large
        half_width = (row["fid_ci"][1] - row["fid_ci"][0]) / 2
        # The fit's prediction at 3x the samples is within FD's own uncertainty at n, and so is FD∞ fitted on the
        # 3x larger sets (n = 750 ... 3,000).
        assert abs(predicted - large_fd) < half_width, (name, predicted, large_fd, half_width)
        large_fit = frechet_curve(reference, {name: others})[name]["fid_infinity"]
        assert abs(row["fid_infinity"] - large_fit) < half_width, (name, row["fid_infinity"], large_fit, half_width)
    floor = report["sets"]["floor"]  # real against real: the truth is 0
    assert abs(floor["fid_infinity"]) < (floor["fid_ci"][1] - floor["fid_ci"][0]) / 2, floor


# ------------------------------------------------------------------------------------------ KID, rank


def biased_mmd2(a: torch.Tensor, b: torch.Tensor) -> float:
    """The V-statistic MMD² with KID's kernel (diagonals kept): what KID would be without the unbiased estimator."""
    kernel = lambda x, y: (x @ y.T / x.shape[1] + 1) ** 3  # noqa: E731
    return float(kernel(a, a).mean() + kernel(b, b).mean() - 2 * kernel(a, b).mean())


def test_kid_is_unbiased_on_real_against_real() -> None:
    kids, biased = [], []
    for seed in range(30):
        g = torch.Generator().manual_seed(seed)
        a, b = torch.randn(100, 16, generator=g), torch.randn(100, 16, generator=g)  # one distribution
        kids.append(kernel_inception_distance(a, b, subsets=20, seed=seed)[0])
        biased.append(biased_mmd2(a[:50].double(), b[:50].double()))  # the same subset size as KID's
    standard_error = np.std(kids) / np.sqrt(len(kids))
    assert abs(np.mean(kids)) < 3 * standard_error, (np.mean(kids), standard_error)
    assert np.mean(biased) > 10 * standard_error  # the test can tell: the biased estimator is far above 0


def test_kid_sees_a_shift_and_is_seeded() -> None:
    a, b = gaussian_pair(200, 8, seed=0)
    same = kernel_inception_distance(a, b, seed=1)
    assert same == kernel_inception_distance(a, b, seed=1) and same[1] > 0
    assert kernel_inception_distance(a, b + 1.0)[0] > same[0] + 5 * same[1]


@pytest.mark.parametrize("d", [4, 16, 128])
def test_the_rank_warning_triggers_exactly_when_n_is_at_most_the_feature_dimension(d: int) -> None:
    for n in range(2, d + 4):
        assert (rank_warning(n, d) is not None) == (n <= d), (n, d)
    for n in (d, d + 1):  # and the covariance it warns about is singular exactly then
        features = torch.randn(n, d, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
        rank = int(torch.linalg.matrix_rank(torch.cov(features.T), hermitian=True))
        assert (rank < d) == (n <= d) and rank == min(n - 1, d)
        report = fidelity_report(features, {"x": features.flip(0)}, resamples=0, kid=False, curve=False)
        assert (report["rank_warning"] is not None) == (n <= d) and report["reference_rank"] == rank


# ------------------------------------------------------------------------------------------ memorisation


def test_nearest_training_digits_finds_copies_across_chunks() -> None:
    g = torch.Generator().manual_seed(0)
    training = torch.rand(12_000, 784, generator=g)  # more than one 10,000-row chunk
    picked = torch.tensor([3, 10_500, 11_999])
    samples = training[picked].view(-1, 28, 28) * 2 - 1
    samples = torch.nn.functional.pad(samples, (2, 2, 2, 2), value=-1.0)[:, None].expand(-1, 3, -1, -1)
    indices, distances = nearest_training_digits(samples, training, count=4)
    assert indices[:, 0].tolist() == picked.tolist() and torch.allclose(distances[:, 0], torch.zeros(3), atol=0.02)
    brute = torch.cdist(training[picked], training).topk(4, largest=False)
    assert torch.equal(indices, brute.indices) and torch.allclose(distances, brute.values, atol=0.02)
    with pytest.raises(DataError, match="expected digits"):
        nearest_training_digits(torch.zeros(2, 5), training)
    with pytest.raises(ConfigError, match="over the limit"):
        nearest_training_digits(samples, training, count=10_000)


# ------------------------------------------------------------------------------------------ rows and the CLI


def test_summary_rows_show_every_number_and_dashes_for_what_was_not_computed() -> None:
    a, b = gaussian_pair(300, 4, seed=0)
    full = fidelity_report(a, {"x": b}, resamples=50)["sets"]
    (row,) = summary_rows(full, {"x": "model"})
    assert list(row) == list(TRUST_COLUMNS) and row["set"] == "model" and "-" not in row.values()
    assert row["FD"] == f"{full['x']['fid']:.2f}" and row["FD∞"] == f"{full['x']['fid_infinity']:.2f}"
    (bare,) = summary_rows(fidelity_report(a, {"x": b}, resamples=0, kid=False, curve=False)["sets"])
    assert bare["FD 95% CI"] == bare["FD∞"] == bare["KID (± sd)"] == "-"
    assert format_table([row, bare]).splitlines()[0].startswith("set")


def write_tiny_models(tmp_path: Path, classifier: DigitClassifier) -> list[str]:
    from vaegan.wgan import Generator, WGANConfig

    generator = save_model(Generator(WGANConfig(latent_dim=8, width=4)), tmp_path / "g.safetensors")
    classifier_path = save_model(classifier, tmp_path / "c.safetensors")
    digits = (np.random.default_rng(0).random((120, 28, 28)) * 255).astype(np.uint8)
    np.savez(tmp_path / "real.npz", X=digits)
    return ["eval", "wgan", "--ckpt", str(generator), "--classifier", str(classifier_path), "--data",
            str(tmp_path / "real.npz"), "--n", "60", "--device", "cpu"]  # fmt: skip


def test_eval_wgan_bootstrap_kid_and_fd_infinity(
    tmp_path: Path, tiny_classifier: DigitClassifier, capsys: pytest.CaptureFixture
) -> None:
    import cli

    argv = write_tiny_models(tmp_path, tiny_classifier)
    assert cli.main([*argv, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "fidelity" not in plain  # the old output, unchanged without the new flags
    assert cli.main([*argv, "--bootstrap", "30", "--kid", "--fd-infinity", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {key: result[key] for key in plain} == plain  # only a field added
    report = result["fidelity"]
    assert report["resamples"] == 30 and report["n"] == 60 and set(report["sets"]) == {"real vs real", "generated"}
    generated = report["sets"]["generated"]
    assert generated["fid"] == pytest.approx(result["fid"], rel=1e-6)
    assert generated["fid_ci"][0] <= generated["fid"] <= generated["fid_ci"][1]
    assert {"kid", "kid_std", "fid_infinity", "fid_curve"} <= set(generated)

    assert cli.main([*argv, "--bootstrap", "30", "--kid"]) == 0
    out = capsys.readouterr().out
    assert "FD 95% CI" in out and "KID (± sd)" in out and "real vs real" in out and "intervals:" in out


BAD_BOOTSTRAPS = [("-1", "greater than or equal to 0"), ("many", "valid integer"),
                  (str(MAX_BOOTSTRAP_RESAMPLES + 1), "over the limit of 10,000")]  # fmt: skip


@pytest.mark.parametrize(("flag", "message"), BAD_BOOTSTRAPS)
def test_bad_bootstrap_counts_are_clear_errors(
    tmp_path: Path, tiny_classifier: DigitClassifier, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
    flag: str, message: str,
) -> None:  # fmt: skip
    import cli

    monkeypatch.setenv("COLUMNS", "200")  # Typer's usage box would wrap the message at 80
    argv = write_tiny_models(tmp_path, tiny_classifier)
    assert cli.main([*argv, "--bootstrap", flag]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_fd_curve_figure_draws_each_set_s_points_fit_and_fd_infinity() -> None:
    from vaegan.figures import fd_curve_figure

    a, b = gaussian_pair(200, 4, seed=0)
    report = fidelity_report(a, {"floor": a.flip(0) + 0.01, "x": b}, resamples=0, kid=False)
    figure = fd_curve_figure(report, {"x": "model"}, {"x": "#000000"})
    points, lines, stars = figure.data[3:6]  # the second set's three traces
    assert points.name == "model: FD of n samples" and list(points.y) == report["sets"]["x"]["fid_curve"]
    assert list(points.x) == pytest.approx([1 / s for s in report["curve_n"]])
    row = report["sets"]["x"]
    assert lines.y[0] == pytest.approx(row["fid_infinity"]) and stars.x[0] == 0.0
    assert lines.y[1] == pytest.approx(row["fid_infinity"] + row["fid_slope"] / min(report["curve_n"]))
    assert stars.name == f"model: FD∞ {row['fid_infinity']:.2f}"
