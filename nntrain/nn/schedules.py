"""Learning-rate schedules: the learning rate of each epoch (0-based) from the base rate.

An optional linear warm-up comes first: epochs 0 .. warmup_epochs-1 use lr * (epoch + 1) / warmup_epochs;
the schedule then runs over the remaining epochs as if they started at 0.
"""

import math


def step(lr, epoch, epochs, step_size, gamma):
    return lr * gamma ** (epoch // step_size)


def exponential(lr, epoch, epochs, gamma):
    return lr * gamma**epoch


def cosine(lr, epoch, epochs, min_lr):
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2


SCHEDULES = {"step": step, "exponential": exponential, "cosine": cosine}


def learning_rate(schedule, lr, epoch, epochs):
    """The learning rate of ``epoch`` (0-based) of ``epochs`` under a schedule config (None: constant)."""
    if schedule is None:
        return lr
    options = schedule.model_dump()
    name, warmup = options.pop("name"), options.pop("warmup_epochs")
    if epoch < warmup:
        return lr * (epoch + 1) / warmup
    return SCHEDULES[name](lr, epoch - warmup, epochs - warmup, **options)
