"""Run every benchmark (or the ones named on the command line) and write the README table.

``python -m bench [model endpoint api event]`` -> ``bench/results/<part>.json`` for each part run and
``bench/results/summary.md``, the Markdown table the README quotes: every part's rows, those not run
this time from their last results file.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time

from bench import RESULTS, save

PARTS = {
    "model": "bench.model_bench",
    "recognition": "bench.recognition_bench",
    "endpoint": "bench.endpoint_bench",
    "api": "bench.api_bench",
    "event": "bench.event_bench",
}


def _rows(part: str, result: dict) -> list[str]:
    """Each benchmark returns {"rows": [[metric, value, baseline, ratio, target], ...], ...}."""
    return [f"| {part} | " + " | ".join(str(cell) for cell in row) + " |" for row in result.get("rows", [])]


def main(argv: list[str]) -> int:
    parts = argv or list(PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"bench: unknown part(s) {unknown}; known: {list(PARTS)}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    rerun = "all parts" if set(parts) == set(PARTS) else ", ".join(parts) + " (the other parts: their last run)"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {platform.python_version()}: {rerun}; "
        "one run of `make bench`; ratios compare with the baseline measured in the same run.",
        "",
        "| part | metric | value | baseline | ratio | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for part in PARTS:
        if part in parts:
            print(f"bench: {part} ...", flush=True)
            save(part, importlib.import_module(PARTS[part]).run())
        saved = RESULTS / f"{part}.json"
        if saved.exists():
            lines += _rows(part, json.loads(saved.read_text()))
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
