"""vaegan.vocabulary: the torch-free lists agree with the heavy modules that act on each name."""

from __future__ import annotations

import subprocess
import sys

from vaegan import vocabulary


def test_lists_match_the_modules_that_implement_them() -> None:
    from vaegan.checkpoint import DEFAULT_CHECKPOINTS
    from vaegan.divergences import GAN_LOSSES, PENALTIES, SWEEP_FAMILIES, TARGETS, TOY_LOSSES
    from vaegan.train.wgan import PRECISIONS, RECIPES
    from vaegan.vae import ARCHITECTURES

    assert tuple(PRECISIONS) == vocabulary.PRECISIONS
    assert set(RECIPES) == set(vocabulary.WGAN_RECIPES)
    assert tuple(ARCHITECTURES) == vocabulary.VAE_ARCHITECTURES
    assert set(GAN_LOSSES) == set(TOY_LOSSES) == set(vocabulary.LOSS_TITLES)
    assert (SWEEP_FAMILIES, TARGETS, PENALTIES) == (vocabulary.SWEEP_FAMILIES, vocabulary.TARGETS, vocabulary.PENALTIES)
    assert DEFAULT_CHECKPOINTS is vocabulary.DEFAULT_CHECKPOINTS  # declared once
    assert set(vocabulary.FAMILY_TITLES) == set(vocabulary.FAMILIES)


def test_vocabulary_imports_no_torch() -> None:
    code = "import sys, vaegan.vocabulary; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
