"""Benchmarks (``make bench``): each module measures one part next to a baseline measured in the same
run and writes ``bench/results/<part>.json``; ``python -m bench`` runs them all and prints the table
that the README quotes. Timings are reported as ratios against their baseline because these machines
are shared and noisy.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def save(part: str, result: dict) -> Path:
    """Write ``bench/results/<part>.json`` and print the result's table rows."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{part}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for row in result.get("rows", []):
        print(" | ".join(str(cell) for cell in row))
    return path
