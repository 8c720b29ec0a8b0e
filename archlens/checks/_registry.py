"""The rule registry: rule code -> pure function ``(Context, CheckConfig) -> [Finding]``.

Rule modules register with ``@rule("P1.grid-reduction", "title")`` when imported; the package
``__init__`` imports them in principle order, which is the order findings are produced in.
Every rule function carries a docstring that explains it to users (see :class:`Rule`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archlens.analysis import Finding
from archlens.checks._common import Context
from archlens.checks.config import CheckConfig
from archlens.errors import ConfigError, suggest

RuleFunc = Callable[[Context, CheckConfig], list[Finding]]

PRINCIPLES = {
    "P1": "Avoid representational bottlenecks, especially early in the network",
    "P2": "Higher-dimensional representations are easier to process locally",
    "P3": "Spatial aggregation can be done over lower-dimensional embeddings",
    "P4": "Balance the width and the depth of the network",
    # ShuffleNet V2's guidelines (Ma et al. 2018): opt-in, see checks.run
    "G1": "Equal channel width minimizes memory access cost",
    "G2": "Excessive group convolution increases memory access cost",
    "G3": "Network fragmentation reduces the degree of parallelism",
    "G4": "Element-wise operations are non-negligible",
}


@dataclass(frozen=True)
class Rule:
    """A registered rule: its code (``P3.factorize-large``), a one-line title, and the pure
    function that finds it.

    The function's docstring is the rule's explanation for people (the dashboard's Principles
    tab shows it as Markdown under the title): a first paragraph that states the rule in plain
    words, then **Principle N.**, **Measured**, **Thresholds.** and **Fix.** paragraphs with the
    configuration keys and their defaults. :attr:`doc` gives the whole text, :attr:`summary`
    its first paragraph.
    """

    code: str
    title: str
    func: RuleFunc

    @property
    def principle(self) -> str:
        return self.code.split(".", 1)[0]

    @property
    def doc(self) -> str:
        """The rule function's docstring, dedented (Markdown)."""
        return inspect.getdoc(self.func) or ""

    @property
    def summary(self) -> str:
        """The docstring's first paragraph, on one line."""
        return " ".join(self.doc.split("\n\n", 1)[0].split())


RULES: dict[str, Rule] = {}


def rule(code: str, title: str) -> Callable[[RuleFunc], RuleFunc]:
    """Register ``func`` under ``code``; it must have a docstring (see :class:`Rule`), because
    that docstring is what users read as the rule's explanation."""
    def deco(func: RuleFunc) -> RuleFunc:
        if code in RULES:
            raise ValueError(f"rule {code!r} registered twice")
        if not (func.__doc__ or "").strip():
            raise ValueError(f"rule {code!r} needs a docstring: the principle in plain words, "
                             "how it is measured, the thresholds and the fix")
        RULES[code] = Rule(code, title, func)
        return func
    return deco


def _tokens(spec: Iterable[str] | str | None) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        spec = [spec]
    out: list[str] = []
    for item in spec:
        out.extend(t.strip() for t in str(item).split(",") if t.strip())
    return out


def _norm(token: str) -> str:
    return token[:1].upper() + token[1:] if token[:1] in "pPgG" else token


def _matches(code: str, token: str) -> bool:
    return code == token or code.startswith(token + ".") or code.startswith(token + "-")


def _expand(tokens: list[str], option: str) -> set[str]:
    out: set[str] = set()
    for raw in tokens:
        t = _norm(raw)
        hit = {c for c in RULES if _matches(c, t)}
        if not hit:
            known = sorted(set(RULES) | set(PRINCIPLES))
            close = suggest(t, known)
            hint = f"did you mean: {', '.join(close)}?" if close else (
                f"known codes: {', '.join(known)}")
            raise ConfigError(f"unknown rule code {raw!r} in the {option} list; {hint}")
        out |= hit
    return out


def selected_codes(select: Iterable[str] | str | None = None,
                   ignore: Iterable[str] | str | None = None) -> list[str]:
    """Rule codes to run, in registry order. ``select``/``ignore`` take codes or prefixes
    (``P1``, ``P3.factorize``, ``P3.factorize-large``), as lists or comma-separated strings."""
    sel = _tokens(select)
    chosen = _expand(sel, "select") if sel else set(RULES)
    chosen -= _expand(_tokens(ignore), "ignore")
    return [c for c in RULES if c in chosen]
