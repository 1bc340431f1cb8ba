"""DiffAugment for the critic: each transform against an independent computation, its gradient, its randomness
(global RNG, nothing drawn for "none") and a training run with it that resumes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.test_wgan import TINY, _weights, tiny_images
from vaegan.augment import CUTOUT_FRACTION, TRANSLATION_FRACTION, augment, cutout, translate
from vaegan.errors import ConfigError, TrainingError
from vaegan.train.wgan import WGANTrainConfig, recipe, train_wgan


def _images(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_translation_moves_each_image_by_its_own_whole_shift_with_background_at_the_edges() -> None:
    x = _images(64)
    torch.manual_seed(5)
    out = translate(x)
    reach = round(32 * TRANSLATION_FRACTION)
    seen = set()
    for b in range(x.shape[0]):
        # find the shift by trying every one: exactly one must reproduce the row (a pad-and-slice per image)
        matches = []
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                padded = torch.nn.functional.pad(x[b], (reach, reach, reach, reach), value=-1.0)
                if torch.equal(padded[:, reach - dy : reach - dy + 32, reach - dx : reach - dx + 32], out[b]):
                    matches.append((dy, dx))
        assert len(matches) == 1, (b, matches)
        seen.add(matches[0])
    assert len(seen) > 20  # 64 draws over 81 shifts: the shift varies per image
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_translation_shifts_are_uniform_over_the_reach() -> None:
    torch.manual_seed(0)
    x = torch.full((4000, 1, 9, 9), -1.0)
    x[:, :, 4, 4] = 1.0  # one lit pixel: where it lands is the shift
    out = translate(x)
    reach = max(1, round(9 * TRANSLATION_FRACTION))
    rows, cols = (out[:, 0] == 1.0).nonzero()[:, 1:].T - 4
    assert len(rows) == 4000 and rows.abs().max() <= reach and cols.abs().max() <= reach
    counts = torch.bincount(rows + reach, minlength=2 * reach + 1).float()
    assert counts.min() > 0.8 * counts.mean()


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_edges() -> None:
    torch.manual_seed(1)
    x = _images(500).abs() + 0.5  # no zero before the cutout
    out = cutout(x)
    side = round(32 * CUTOUT_FRACTION)
    zeroed = out == 0
    assert torch.equal(zeroed[:, :1].expand_as(zeroed), zeroed)  # the same square in every channel
    assert torch.equal(out[~zeroed], x[~zeroed])
    fractions = zeroed[:, 0].float().mean(dim=(1, 2))
    assert fractions.max() == pytest.approx(side * side / 1024) and fractions.min() < fractions.max()
    for b in range(0, 500, 25):  # each mask is one axis-aligned rectangle
        rows, cols = zeroed[b, 0].nonzero().T
        if len(rows):
            assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert rows.max() - rows.min() + 1 <= side and cols.max() - cols.min() + 1 <= side


def test_gradients_reach_exactly_the_pixels_the_transforms_kept() -> None:
    x = _images(8).requires_grad_(True)
    torch.manual_seed(2)
    out = augment(x, "translation,cutout")
    out.sum().backward()
    # each output pixel is one input pixel (or background, or zero): the gradient counts where each input went
    torch.manual_seed(2)
    with torch.no_grad():
        marked = augment(torch.arange(x.numel(), dtype=torch.float64).reshape(x.shape) + 1, "translation,cutout")
    kept = marked[marked > 0].long() - 1
    expected = torch.bincount(kept, minlength=x.numel()).reshape(x.shape).float()
    torch.testing.assert_close(x.grad, expected)


def test_none_draws_nothing_and_unknown_policies_are_config_errors() -> None:
    x = _images(4)
    torch.manual_seed(3)
    before = torch.get_rng_state()
    assert augment(x, "none") is x and torch.equal(torch.get_rng_state(), before)
    with pytest.raises(ConfigError, match="unknown augmentation"):
        augment(x, "rotation")
    with pytest.raises(ConfigError, match="unknown augmentation"):
        WGANTrainConfig(augment="cutout,translation")


def test_an_augmented_run_resumes_exactly_and_differs_from_a_plain_one(tmp_path: Path) -> None:
    data = tiny_images(40)
    config = WGANTrainConfig(iters=5, batch_size=8, n_critic=2, checkpoint_every=2, augment="translation,cutout")
    full = train_wgan(TINY, data, config, run_dir=tmp_path / "full")
    train_wgan(TINY, data, WGANTrainConfig(**{**config.__dict__, "iters": 2}), run_dir=tmp_path / "cut")
    resumed = train_wgan(TINY, data, config, run_dir=tmp_path / "cut", resume=True)
    plain = train_wgan(TINY, data, WGANTrainConfig(**{**config.__dict__, "augment": "none"}), run_dir=tmp_path / "p")
    weights = [_weights(r) for r in (full, resumed, plain)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert any(not torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_the_recipes_leave_augmentation_off_and_a_flag_turns_it_on() -> None:
    assert recipe("fast")[1].augment == "none" and recipe("reference")[1].augment == "none"
    assert recipe("fast", augment="translation")[1].augment == "translation"


def test_states_from_before_the_option_resume_and_a_changed_policy_is_refused(tmp_path: Path) -> None:
    assert "augment" not in WGANTrainConfig().numerics()  # as in every state written before the option existed
    assert WGANTrainConfig(augment="translation").numerics()["augment"] == "translation"
    data = tiny_images(16)
    train_wgan(TINY, data, WGANTrainConfig(iters=1, batch_size=8, augment="translation"), run_dir=tmp_path)
    with pytest.raises(TrainingError, match="other settings"):
        train_wgan(TINY, data, WGANTrainConfig(iters=2, batch_size=8), run_dir=tmp_path, resume=True)
