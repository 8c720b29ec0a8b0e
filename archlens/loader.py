"""Model references -> ``nn.Module``: a zoo name, ``path/to/file.py:callable`` or
``package.module:callable``.

A reference with ``:`` or ending in ``.py`` names code; anything else is a zoo name (unknown
names get close-match suggestions). The callable returns an ``nn.Module`` or is a module class
constructible with no arguments. A module (or the callable) may carry ``default_input_shape``
(``(C, H, W)``) to serve as the default ``--input``. Loading a file or module runs its code.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archlens.errors import ModelLoadError, suggest


def is_reference(ref: str) -> bool:
    """True for ``file.py:callable`` / ``pkg.mod:callable`` / ``file.py``; False for zoo names."""
    return ":" in ref or ref.endswith(".py")


@contextlib.contextmanager
def _device_ctx(device: str | None):
    """Build under ``torch.device("meta")`` with weight initialisation skipped (meta tensors
    hold no values: archlens.meta_kernels.skip_meta_init); anything else builds as it is."""
    if device != "meta":
        yield
        return
    from archlens.meta_kernels import skip_meta_init
    with skip_meta_init(), torch.device("meta"):
        yield


def load_model(ref: str, *, device: str | None = None, notes: list[str] | None = None
               ) -> tuple[nn.Module, str, tuple[int, ...] | None]:
    """(module in eval mode, display name, default input shape (C, H, W) or None).

    ``device="meta"`` builds the model on the meta device (nothing allocated); a builder that
    needs real values there (torchvision's RegNet calls ``.tolist()`` on a tensor) is built on
    the CPU instead and moved to meta (:func:`to_meta`), and a sentence saying so is appended
    to ``notes``. Errors are one-line :class:`ModelLoadError` / :class:`UnknownModelError`.
    """
    if not is_reference(ref):
        from archlens import zoo
        card = zoo.card(ref)  # UnknownModelError with suggestions
        model = _build_on(lambda: zoo.get_model(ref), ref, device, notes)
        return model, ref, tuple(card.input_shape)
    target, _, attr = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if not attr:
        raise ModelLoadError(f"model reference {ref!r} names no callable; use "
                             f"{ref}:build_model (path/to/file.py:callable)")
    module = _import_target(target, ref)
    obj = _get_attr(module, attr, target)
    model = _call(obj, ref, device, notes)
    shape = getattr(model, "default_input_shape", None) or getattr(obj, "default_input_shape",
                                                                    None)
    return model.eval(), ref, tuple(shape) if shape else None


def _import_target(target: str, ref: str) -> Any:
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        try:
            found = path.is_file()
        except OSError as e:  # e.g. a file name longer than the file system allows
            raise ModelLoadError(f"model file {str(path)[:80]!r}... cannot be opened "
                                 f"({e.strerror}); check the path") from None
        if not found:
            raise ModelLoadError(f"model file {str(path)!r} not found (reference {ref!r}); "
                                 "check the path")
        name = "archlens_user_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModelLoadError(f"cannot load {str(path)!r} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))  # sibling imports of the user's file
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(name, None)
            raise ModelLoadError(f"importing {str(path)!r} failed: {_first_line(e)}") from None
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(path.resolve().parent))
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise ModelLoadError(f"module {target!r} not found ({e.name!r} is not importable); "
                             "check the name or use path/to/file.py:callable") from None
    except Exception as e:
        raise ModelLoadError(f"importing {target!r} failed: {_first_line(e)}") from None


def _get_attr(module: Any, attr: str, target: str) -> Any:
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = suggest(part, names)
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise ModelLoadError(f"{target!r} has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
    return obj


def _build_on(build: Any, ref: str, device: str | None, notes: list[str] | None) -> Any:
    """``build()`` under the device context; on meta, a failing build is retried on the CPU
    and the result moved to meta (a note says so). Errors of the CPU build propagate."""
    if device != "meta":
        return build()
    try:
        with _device_ctx(device):
            return build()
    except Exception as e:
        meta_error = _first_line(e)
    model = build()  # on the CPU; its own error (if any) is the one to report
    if isinstance(model, nn.Module):
        model = to_meta(model)
    if notes is not None:
        notes.append(f"building {ref} on the meta device failed ({meta_error}); built on the "
                     "CPU and moved to meta (the weights were allocated once)")
    return model


def _call(obj: Any, ref: str, device: str | None, notes: list[str] | None = None) -> nn.Module:
    if isinstance(obj, nn.Module):
        model = obj
    elif callable(obj):
        if inspect.isclass(obj) and not issubclass(obj, nn.Module):
            raise ModelLoadError(f"{ref!r} is the class {obj.__name__}, not an nn.Module "
                                 "subclass; point at a function that returns an nn.Module")
        try:
            model = _build_on(obj, ref, device, notes)
        except TypeError as e:
            if _takes_no_arguments(obj):  # the TypeError came from inside the builder
                raise ModelLoadError(f"building {ref!r} failed: {_first_line(e)}"
                                     f"{_user_frame(e)}") from None
            raise ModelLoadError(f"calling {ref!r} with no arguments failed: {_first_line(e)}; "
                                 "point at a callable that needs no arguments") from None
        except Exception as e:
            raise ModelLoadError(f"building {ref!r} failed: {_first_line(e)}") from None
    else:
        raise ModelLoadError(f"{ref!r} is a {type(obj).__name__}, not a callable returning an "
                             "nn.Module")
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{ref!r} returned a {type(model).__name__}, not an nn.Module")
    if device == "meta" and any(not p.is_meta for p in model.parameters()):
        model = to_meta(model)
    return model


def _takes_no_arguments(obj: Any) -> bool:
    """Whether ``obj()`` binds (so a TypeError it raised is not about its arguments)."""
    try:
        inspect.signature(obj).bind()
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): cannot tell
        return False
    return True


def _user_frame(e: BaseException) -> str:
    """' (at file.py:12 in build)': the innermost frame of the user's code in ``e``."""
    import traceback
    here = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not os.path.abspath(f.filename).startswith(here)
              and "site-packages" not in f.filename
              and not f.filename.startswith(os.path.dirname(os.__file__))]
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""


def to_meta(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the meta device without copying (or allocating) any weight:
    every parameter and buffer is pre-seeded in the copy's memo with a meta twin.

    The copy is what ``copy.deepcopy`` makes (nothing is shared with ``model``, so a forward
    pass that caches tensors on its modules cannot touch the user's model), built by
    :func:`_copy_module`, which takes the common cases of a module's state directly instead of
    through deepcopy's generic reduce/reconstruct: 2.2x faster on a 2,000-block residual
    network, 30 % of a meta analysis of a CPU model before (docs/engine.md, "Speed")."""
    memo: dict[int, Any] = {}
    # every parameter and buffer once, as model.parameters() + model.buffers() would give
    # them, in one walk of the module tree and without building their dotted names
    for m in model.modules():
        for table in (m._parameters, m._buffers):
            for t in table.values():
                if t is None or id(t) in memo:
                    continue
                if isinstance(t, nn.Parameter):
                    memo[id(t)] = nn.Parameter(torch.empty_like(t, device="meta"),
                                               requires_grad=t.requires_grad)
                else:
                    memo[id(t)] = torch.empty_like(t, device="meta")
    return _copy_module(model, memo)


_ATOMS = (type(None), bool, int, float, complex, str, bytes)
_EMPTY = (dict, OrderedDict, list, set)


@functools.lru_cache(maxsize=1024)
def _plain_module_type(cls: type) -> bool:
    """True when deepcopy would copy an instance of ``cls`` exactly as nn.Module's own
    reduce/getstate/setstate say (no custom ``__deepcopy__``, ``__reduce__`` or getstate)."""
    return (getattr(cls, "__deepcopy__", None) is None
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and cls.__getstate__ is nn.Module.__getstate__
            and cls.__new__ is object.__new__)


def _copy_module(m: nn.Module, memo: dict[int, Any]) -> nn.Module:
    """``copy.deepcopy(m, memo)``, with the same result, faster for plain modules: atoms are
    shared (deepcopy returns them as they are), empty hook tables are made new, parameters and
    buffers come from the memo, child modules recurse, and anything else goes through
    ``copy.deepcopy`` with the same memo (so shared objects stay shared in the copy)."""
    import copy
    hit = memo.get(id(m))
    if hit is not None:
        return hit
    cls = type(m)
    if not _plain_module_type(cls):
        return copy.deepcopy(m, memo)
    y = cls.__new__(cls)
    memo[id(m)] = y
    state = m.__getstate__()
    new: dict[str, Any] = {}
    for k, v in state.items():
        t = type(v)
        if k == "_modules" and t in (dict, OrderedDict):
            new[k] = t((n, None if c is None else _copy_module(c, memo)) for n, c in v.items())
        elif k in ("_parameters", "_buffers") and t in (dict, OrderedDict):
            new[k] = t((n, None if p is None else memo[id(p)] if id(p) in memo
                        else copy.deepcopy(p, memo)) for n, p in v.items())
        elif t in _ATOMS or (t is tuple and all(type(x) in _ATOMS for x in v)):
            new[k] = v  # deepcopy returns a tuple of atoms itself (kernel_size, stride, ...)
        elif t in _EMPTY and not v:
            new[k] = t()
        else:
            new[k] = copy.deepcopy(v, memo)
    y.__setstate__(new)
    return y


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0].strip()}" if lines else type(e).__name__


def load_callable(ref: str) -> Any:
    """The object ``path/to/file.py:callable`` or ``package.module:callable`` names, not called
    (a sweep calls it with keyword arguments). One-line :class:`ModelLoadError` otherwise."""
    target, _, attr = ref.rpartition(":")
    if not target or not attr:
        raise ModelLoadError(f"reference {ref!r} must be path/to/file.py:callable or "
                             "package.module:callable")
    return _get_attr(_import_target(target, ref), attr, target)
