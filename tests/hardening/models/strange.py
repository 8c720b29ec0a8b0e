"""Strange and hostile models for the hardening battery (HZ_MODE picks the misbehaviour)."""
import os
import sys
import time

import torch
from torch import nn

MODE = os.environ.get("HZ_MODE", "")
if MODE == "exit_import":
    sys.exit(3)
if MODE == "raise_import":
    raise ValueError("broken at import")


class Net(nn.Module):
    default_input_shape = (3, 16, 16)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        if MODE == "exit_forward":
            sys.exit(4)
        if MODE == "print":
            print("hello from forward")
        if MODE == "hang":
            while True:
                pass
        if MODE == "sleep":
            print("IN-FORWARD", file=sys.stderr, flush=True)
            time.sleep(600)
        if MODE == "kbd":
            raise KeyboardInterrupt
        if MODE == "none":
            self.conv(x)
            return None
        if MODE == "recurse":
            return self.forward(x)
        if MODE == "memory":
            raise MemoryError
        return self.conv(x)


def build():
    if MODE == "exit_build":
        sys.exit(5)
    if MODE == "typeerror":
        return nn.Conv2d(3, "x", 3)
    if MODE == "raise_build":
        raise RuntimeError("builder failed")
    if MODE == "exit_build_none":
        sys.exit()
    return Net()


def needs_args(width):
    return Net()


def returns_int():
    return 3


class NotAModule:
    pass


NOT_CALLABLE = 42


class Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3)
        self.b = torch.jit.script(nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU()))

    def forward(self, x):
        return self.b(self.a(x))


def deep():
    m = nn.Conv2d(3, 3, 1)
    for _ in range(3000):
        m = nn.Sequential(m)
    return m


class Conv1dNet(nn.Module):
    default_input_shape = (3, 64)

    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(3, 8, 3)
        self.d = nn.Conv1d(8, 8, 5, stride=2)

    def forward(self, x):
        return self.d(self.c(x))


def no_params():
    return nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))


HOSTILE_NAMES = [
    "\x1b]0;pwned\x07t", "\x1b[31mred\x1b[0m", "[/bold]", "[link]kept[/link]",
    "<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>",
    "\" onmouseover=\"alert(1)", "a`b``c", "x](javascript:alert(1))", "*b* _i_ ~~s~~",
    "a|b|c", "line1\nline2", "nul\x00byte", "bidi\u202eevil", "\\N\\G\\l",
    "&lt;b&gt;&amp;", "{a}%s", "#heading",
]


class Hostile(nn.Module):
    """Conv layers named by HOSTILE_NAMES, run in sequence (names reach every sink)."""
    default_input_shape = (3, 16, 16)

    def __init__(self):
        super().__init__()
        for n in HOSTILE_NAMES:
            self.add_module(n, nn.Conv2d(3, 3, 3, padding=1))

    def forward(self, x):
        for n in HOSTILE_NAMES:
            x = getattr(self, n)(x)
        return x
