"""Training the digit classifier: cross-entropy + Adam over shuffled minibatches, random shifts, cosine decay.

Under torchrun it is data-parallel (`vaegan.distributed`): every rank shifts the whole global batch, trains on its
shard, and DDP averages the gradients; dropout draws differ per rank (their masks would repeat otherwise). There
is no state file: a restarted group trains again from the start (the same seed gives the same weights).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own convention

from vaegan import distributed
from vaegan.classifier import ClassifierConfig, DigitClassifier, check_labelled, classifier_accuracy
from vaegan.data import ImageSet
from vaegan.errors import ConfigError, DataError
from vaegan.limits import MAX_BATCH_SIZE, MAX_EPOCHS, check_count, check_seed
from vaegan.train.common import (
    OPTIMIZER_STEPS,
    Progress,
    ProgressCallback,
    TrainResult,
    check_finite,
    make_adam,
)


@dataclass(frozen=True)
class ClassifierTrainConfig:
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3  # peak; decays to 0 along a cosine over all steps
    seed: int = 0
    augment: bool = True  # random shifts of up to `max_shift` pixels: generated digits are not always centred
    max_shift: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.max_shift < 0:
            raise ConfigError("epochs and batch_size must be >= 1, lr > 0 and max_shift >= 0")
        check_count("epochs", self.epochs, MAX_EPOCHS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("max_shift", self.max_shift, 16, minimum=0)  # half the 32-pixel side: the shift pads by it
        check_seed(self.seed)


# ------------------------------------------------------------------------------------------ training


def random_shift(x: torch.Tensor, max_shift: int, rng: torch.Generator | None = None) -> torch.Tensor:
    """Translate every image by its own integer offset in [-max_shift, max_shift]^2, edges replicated."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=rng).to(x.device)
    rows = offsets[0][:, None] + torch.arange(h, device=x.device)  # (n, h): source row of each output row
    cols = offsets[1][:, None] + torch.arange(w, device=x.device)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # advanced indexing with the channel slice in the middle puts the channel dim last: (n, h, w, c)
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


def train_classifier(
    data: ImageSet,
    config: ClassifierConfig | None = None,
    train_config: ClassifierTrainConfig | None = None,
    *,
    holdout: ImageSet | None = None,
    device: torch.device | str = "cpu",
    on_progress: ProgressCallback | None = None,
) -> TrainResult:
    """Cross-entropy + Adam over shuffled minibatches of the labelled `data`; with `holdout`, its accuracy is
    measured and stored. Seeded: the same seed, data and device give the same weights.

    The result's history has one entry per epoch: the training loss and accuracy as trained (shifted images,
    dropout on), so they sit below the finished model's accuracy on the same images.
    """
    config = config or ClassifierConfig()
    train_config = train_config or ClassifierTrainConfig()
    if data.labels is None:
        raise DataError(f"{data.name!r} has no labels; the classifier needs labelled digits")
    if holdout is not None and holdout.labels is None:
        raise DataError(f"the held-out set {holdout.name!r} has no labels")
    check_labelled(data.images, data.labels, config.num_classes)
    distributed.local_batch(train_config.batch_size)  # under torchrun: refuses a batch that does not split
    device = torch.device(device)
    torch.manual_seed(train_config.seed)  # weight init and dropout
    rng = torch.Generator().manual_seed(train_config.seed)  # batch order and shifts, independent of the device
    model = DigitClassifier(config).to(device)
    optimizer = make_adam(model.parameters(), lr=train_config.lr)
    x_all, y_all = data.images.to(device), data.labels.to(device=device, dtype=torch.long)
    n = x_all.shape[0]
    steps_per_epoch = math.ceil(n / train_config.batch_size)
    total_steps = train_config.epochs * steps_per_epoch
    # Cosine decay: large steps early, small ones at the end settle the weights (and the batch-norm statistics).
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if distributed.world_size() > 1:
        torch.manual_seed(train_config.seed + distributed.rank())  # dropout: each rank its own masks
    ddp_model = distributed.wrap(model)
    history: list[dict] = []
    started = time.perf_counter()
    model.train()
    for epoch in range(train_config.epochs):
        epoch_started = time.perf_counter()
        order = torch.randperm(n, generator=rng).to(device)
        loss_sum, correct = 0.0, 0
        for step, start in enumerate(range(0, n, train_config.batch_size)):
            idx = order[start : start + train_config.batch_size]
            x, y = x_all[idx], y_all[idx]
            if train_config.augment:
                x = random_shift(x, train_config.max_shift, rng)
            if y.shape[0] < distributed.world_size():
                schedule.step()  # a last batch of fewer rows than processes is skipped (DDP only)
                continue
            batch_rows = y.shape[0]
            x, y = distributed.shard(x), distributed.shard(y)
            logits = ddp_model(x)
            loss = distributed.weight_shard(F.cross_entropy(logits, y), y.shape[0], batch_rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            totals = distributed.sum_over_ranks({"loss": loss.item(), "correct": int((logits.argmax(1) == y).sum())})
            value = totals["loss"] / distributed.world_size()
            check_finite({"classifier loss": value}, f"epoch {epoch + 1}, step {step + 1}", None)  # no checkpoints
            loss_sum += value * batch_rows
            correct += int(totals["correct"])
            if on_progress is not None:
                done = epoch * steps_per_epoch + step + 1
                on_progress(Progress("step", done, total_steps, OPTIMIZER_STEPS, {"loss": value},
                                     time.perf_counter() - started))  # fmt: skip
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / n, "train_accuracy": correct / n,
                        "seconds": time.perf_counter() - epoch_started})  # fmt: skip
        if on_progress is not None:
            values = {k: history[-1][k] for k in ("train_loss", "train_accuracy")}
            on_progress(Progress("epoch", (epoch + 1) * steps_per_epoch, total_steps, OPTIMIZER_STEPS, values,
                                 time.perf_counter() - started))  # fmt: skip
    model.eval()
    metrics: dict[str, float] = {"train_accuracy": history[-1]["train_accuracy"]}
    if holdout is not None:
        metrics["holdout_accuracy"] = classifier_accuracy(model, holdout.images, holdout.labels)
        metrics["holdout_n"] = int(holdout.images.shape[0])
    return TrainResult(
        model=model,
        steps=total_steps,
        step_unit=OPTIMIZER_STEPS,
        dataset=data.name,
        metrics=metrics,
        train_config=dataclasses.asdict(train_config),
        seconds=time.perf_counter() - started,
        history=history,
        extra={"holdout": holdout.name if holdout is not None else ""},
    )
