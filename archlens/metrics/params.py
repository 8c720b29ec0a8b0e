"""Parameters per node: own parameters, shared weights counted once (at their first use)."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from archlens.trace import OpRecord


def node_params(records: Sequence[OpRecord]) -> tuple[list[int], list[int]]:
    """(params, trainable params) per record, in execution order.

    A record's parameters are those its op reads: every parameter of a leaf module (an opaque
    module's children included), or the ``nn.Parameter`` arguments of a functional op (a
    container's ``cls_token`` in ``torch.cat``). A parameter already counted by an earlier
    record (a module called twice, tied weights) counts 0 the second time.
    """
    seen: set[int] = set()
    params, trainable = [], []
    for r in records:
        p = t = 0
        for pid, size, grad in zip(r.param_ids, r.param_sizes, r.param_trainable):
            if pid in seen:
                continue
            seen.add(pid)
            p += size
            t += size if grad else 0
        params.append(p)
        trainable.append(t)
    return params, trainable


def model_params(model: nn.Module) -> tuple[int, int]:
    """(all, trainable) unique parameters of ``model`` -- what model cards publish.

    Includes modules the traced pass did not execute (Inception-v3's AuxLogits in eval mode);
    the difference to the per-node sum is reported as ``Totals.unused_params``.
    """
    ps = list(model.parameters())  # unique by identity
    return sum(p.numel() for p in ps), sum(p.numel() for p in ps if p.requires_grad)
