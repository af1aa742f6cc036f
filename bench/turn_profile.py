"""Where a turn's CPU goes, from a pyinstrument session: a plain-text summary for the README.

Two views of the same samples (the event loop's thread only; SQLite itself runs in aiosqlite's
thread and is not sampled here):
- self time by module (a third-party package counts as one: `sqlalchemy`, `httpcore`, …;
  our own code by module), which says which layer burns the CPU;
- inclusive time by our own functions (a function is counted once per stack however deep it
  recurses), which says which step of the turn it is burnt for.
Used by `python bench/turn_cpu.py --profile FILE`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def module_of(file_path: str | None) -> str:
    """`bot/storage/store.py` -> `bot.storage.store`; `.../site-packages/httpx/_x.py` -> `httpx`;
    `.../lib/python3.11/asyncio/events.py` -> `asyncio`; a C call -> `<builtin>`."""
    if not file_path:
        return "<builtin>"
    path = Path(file_path)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    try:
        relative = path.resolve().relative_to(ROOT)
        if relative.parts[0] == "bot":
            return ".".join(relative.with_suffix("").parts)
        return relative.parts[0]
    except ValueError:
        pass
    for marker in ("python3.11", "python3.12", "python3.13"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            return rest[0].removesuffix(".py") if rest else marker
    return path.name


IDLE = "(idle: the event loop waiting in select)"


def _walk(
    frame: Any, ancestors: frozenset[str], own: Counter[str], mods: Counter[str], caller: str
) -> None:
    real = [child for child in frame.children if not child.is_synthetic]
    self_time = frame.time - sum(child.time for child in real)
    module = module_of(frame.file_path)
    if module == "selectors":  # the loop waiting for sockets: not CPU
        mods[IDLE] += frame.time
        return
    if module in {"<builtin>", "<built-in>", "<string>"}:
        # C functions and generated code (dataclasses', SQLAlchemy's) count for their caller.
        module = caller
    mods[module] += self_time
    key = f"{module}:{frame.function}"
    if module.startswith("bot.") and key not in ancestors:
        own[key] += frame.time
        ancestors = ancestors | {key}
    for child in real:
        _walk(child, ancestors, own, mods, module)


def summary(session: Any, turns: int, top: int = 15) -> str:
    """The top modules by self time and our functions by inclusive time, per turn."""
    root = session.root_frame()
    if root is None:
        return "(no samples)"
    own: Counter[str] = Counter()
    mods: Counter[str] = Counter()
    _walk(root, frozenset(), own, mods, "<root>")
    idle = mods.pop(IDLE, 0.0)
    total = root.time - idle
    lines = [
        f"Sampled {total / turns * 1e3:.2f} ms per turn busy on the event loop's thread "
        f"({idle / turns * 1e3:.2f} ms idle in select left out; shares are of the busy time).",
        "",
        "| module (self time) | ms per turn | share |",
        "|---|---:|---:|",
    ]
    for name, spent in mods.most_common(top):
        lines.append(f"| {name} | {spent / turns * 1e3:.2f} | {spent / total:.0%} |")
    lines += ["", "| our function (inclusive) | ms per turn | share |", "|---|---:|---:|"]
    for name, spent in own.most_common(top * 2):
        lines.append(f"| {name} | {spent / turns * 1e3:.2f} | {spent / total:.0%} |")
    return "\n".join(lines)


STARTUP = ("_find_and_load", "upgrade_to_head", "chat_file", "running_bot", "_with_card")
"""Frames that mark a sample as the process starting, not a turn."""


def _frame(text: str) -> tuple[str, str]:
    """`SqlStore.history (bot/storage/store.py:111)` -> `bot.storage.store`, `SqlStore.history`."""
    function, _, where = text.rpartition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    if path.startswith("bot/"):
        return ".".join(Path(path).with_suffix("").parts), function
    if path.startswith("<"):
        return "<generated>", function
    return path.split("/")[0].removesuffix(".py"), function


def spy_summary(raw: str, turns: int, interval: float, top: int = 15) -> str:
    """The same two views from py-spy's raw output (`record -f raw -t`, every thread, only
    samples where a thread was busy), samples of the process starting left out."""
    mods: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(marker in stack for marker in STARTUP):
            continue
        samples = int(count)
        total += samples
        threads["event loop" if "MainThread" in frames[0] else "other threads (SQLite)"] += samples
        parsed = [_frame(text) for text in frames[1:]]
        leaf = next((m for m, _ in reversed(parsed) if m != "<generated>"), "<generated>")
        mods[leaf] += samples
        seen = set()
        for module, function in parsed:
            key = f"{module}:{function}"
            if module.startswith("bot.") and key not in seen:
                own[key] += samples
                seen.add(key)
    per_turn = interval / turns * 1e3
    lines = [
        f"{total * per_turn:.2f} ms sampled busy per turn, "
        + ", ".join(f"{name} {n / total:.0%}" for name, n in threads.most_common())
        + ".",
        "",
        "| module (self time) | ms per turn | share |",
        "|---|---:|---:|",
    ]
    for name, n in mods.most_common(top):
        lines.append(f"| {name} | {n * per_turn:.2f} | {n / total:.0%} |")
    lines += ["", "| our function (inclusive) | ms per turn | share |", "|---|---:|---:|"]
    for name, n in own.most_common(top * 2):
        lines.append(f"| {name} | {n * per_turn:.2f} | {n / total:.0%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Summarise py-spy raw output of turn_cpu.py")
    parser.add_argument("raw", type=Path)
    parser.add_argument("--turns", type=int, required=True)
    parser.add_argument("--rate", type=int, default=500, help="py-spy's samples per second")
    args = parser.parse_args()
    print(spy_summary(args.raw.read_text(encoding="utf-8"), args.turns, 1 / args.rate))
