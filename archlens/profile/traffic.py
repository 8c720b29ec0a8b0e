"""Memory traffic of a layer and the ShuffleNet-V2 memory-access-cost arithmetic (pure).

Bytes per node at the profiled dtype (``itemsize`` bytes per element):

* ``read_bytes``   every tensor input (``in_shapes``: the tensors produced by earlier nodes);
* ``weight_bytes`` the node's own parameters (``Node.params``: a weight shared by two calls is
  counted at its first use, so the second call's weight read is not counted);
* ``write_bytes``  the output tensor(s) (``attrs["out_shapes"]`` when an op returns several).

A *view* (``x.view``, ``flatten`` of a contiguous tensor, ``getitem`` slices: ``attrs["view"]``)
moves nothing: 0 bytes. An in-place op (``ReLU(inplace=True)``) still reads and writes its
tensor once. This is the compulsory traffic of the op in isolation (each tensor touched once, no
cache reuse between ops): the lower bound an ideal kernel reaches, and the number the roofline
estimate uses.

ShuffleNet V2 (Ma et al., ECCV 2018, sec. 3) counts *memory access cost* in elements for a
1x1 convolution with ``c1`` input and ``c2`` output channels on an ``h x w`` map, ``g`` groups:

    MAC_mem = h*w*(c1 + c2) + c1*c2/g         (inputs + outputs + weights)
    B       = h*w*c1*c2/g                     (multiply-accumulates of the conv)

and, by the AM-GM inequality, for ``g = 1`` at fixed ``B``: ``MAC_mem >= 2*sqrt(h*w*B) + B/(h*w)``
with equality exactly when ``c1 = c2`` (guideline G1). The paper writes "MAC" for memory access
cost and "FLOPs" for ``B``; archlens says *memory access cost* (elements) and *MACs*
(multiply-accumulates) to keep the two apart.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from archlens.graph import Node


@dataclass(frozen=True)
class Traffic:
    """Bytes one node moves: tensor inputs read, weights read, outputs written."""

    read_bytes: int
    weight_bytes: int
    write_bytes: int

    @property
    def total(self) -> int:
        return self.read_bytes + self.weight_bytes + self.write_bytes


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape) if shape else 1


def node_traffic(node: Node, itemsize: int) -> Traffic:
    """Compulsory bytes of ``node`` at ``itemsize`` bytes per element (see module doc)."""
    if node.kind == "input" or node.attrs.get("view"):
        return Traffic(0, 0, 0)
    outs = node.attrs.get("out_shapes") or ((node.out_shape,) if node.out_shape else ())
    return Traffic(read_bytes=sum(_numel(s) for s in node.in_shapes) * itemsize,
                   weight_bytes=int(node.params) * itemsize,
                   write_bytes=sum(_numel(s) for s in outs) * itemsize)


# ----------------------------------------------------------------------------------------
# ShuffleNet V2 arithmetic (elements, per image)
# ----------------------------------------------------------------------------------------

def conv1x1_macs(h: int, w: int, c1: int, c2: int, groups: int = 1) -> float:
    """``B = h*w*c1*c2/g``: multiply-accumulates of a (grouped) 1x1 convolution."""
    return h * w * c1 * c2 / groups


def memory_access_cost(h: int, w: int, c1: int, c2: int, groups: int = 1) -> float:
    """``h*w*(c1 + c2) + c1*c2/g`` elements: input map, output map and weights (ShuffleNet V2,
    eq. 1 for ``g = 1``, eq. 2 for grouped convolutions)."""
    return h * w * (c1 + c2) + c1 * c2 / groups


def memory_access_lower_bound(h: int, w: int, macs: float) -> float:
    """``2*sqrt(h*w*B) + B/(h*w)``: the least memory access cost of any 1x1 convolution with
    ``B`` multiply-accumulates on an ``h x w`` map (reached at ``c1 = c2 = sqrt(B/(h*w))``)."""
    return 2.0 * math.sqrt(h * w * macs) + macs / (h * w)


def balanced_width(h: int, w: int, macs: float) -> float:
    """``sqrt(B/(h*w))``: the equal input/output width of a 1x1 conv with ``B`` MACs."""
    return math.sqrt(macs / (h * w))


def equal_macs_ungrouped_width(c: int, groups: int) -> float:
    """Width ``c'`` of an ungrouped ``c' -> c'`` 1x1 conv with the MACs of a ``g``-grouped
    ``c -> c`` one: ``c'^2 = c^2/g``."""
    return c / math.sqrt(groups)
