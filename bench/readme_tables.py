"""Where a benchmark's latest table goes: between its two markers in a README.

Every benchmark rewrites only its own block, so the prose around the tables stays as
written and each table shows the last run of its script.
"""

from __future__ import annotations

from pathlib import Path


def write_table(path: Path, name: str, table: str) -> None:
    """Put `table` between `<!-- name:begin -->` and `<!-- name:end -->` in `path`; the
    markers are added at the end the first time."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    readme = path.read_text(encoding="utf-8")
    if begin not in readme:
        readme = f"{readme.rstrip()}\n\n{begin}\n{end}\n"
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{table}\n{end}{tail}", encoding="utf-8")
