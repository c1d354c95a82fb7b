"""The Lambda functions' IAM policies, written from one template for each stage's region and account.

``chalice_app/.chalice/policy-template.json`` is the policy with placeholders; Chalice reads static files,
so ``python -m ops.policies`` writes ``.chalice/policy-<stage>.json`` (the ``iam_policy_file`` of each
stage in ``.chalice/config.json``) from it and ``stages.json``. Placeholders: ``${partition}`` (``aws``,
``aws-cn``, ``aws-us-gov``: from the region), ``${region}``, ``${account}`` (the stage's ``account_id``,
``*`` when it is null), ``${stage}``, ``${app_name}`` and the resource names of :class:`StageConfig`.

``python -m ops.provision --stage <stage>`` writes the stage's file too, before ``chalice deploy``, and
refuses AWS credentials of another account than ``account_id``. ``tests/test_policies.py`` checks that the
committed files are what this module writes, so a policy change is a template change.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3

from chalicelib.config import StageConfig, load, stage_names
from ops.emulator import ROOT
from ops.errors import OpsError

CHALICE_DIR = ROOT / "chalice_app" / ".chalice"
TEMPLATE = CHALICE_DIR / "policy-template.json"


def _chalice_config() -> dict[str, Any]:
    return json.loads((CHALICE_DIR / "config.json").read_text())


def policy_path(stage: str) -> Path:
    """The stage's ``iam_policy_file`` (``.chalice/config.json``)."""
    return CHALICE_DIR / _chalice_config()["stages"][stage]["iam_policy_file"]


def placeholders(config: StageConfig) -> dict[str, str]:
    """Values of the template's ``${name}`` placeholders for ``config``'s stage."""
    partition = boto3.Session().get_partition_for_region(config.region)
    values = {k: str(v) for k, v in asdict(config).items() if isinstance(v, str)}
    return {
        **values,
        "partition": partition,
        "account": config.account_id or "*",
        "app_name": _chalice_config()["app_name"],
    }


def render(config: StageConfig, template: Path = TEMPLATE) -> dict[str, Any]:
    """The policy document of ``config``'s stage. Raises KeyError for an unknown placeholder."""
    values = placeholders(config)

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return string.Template(node).substitute(values)
        if isinstance(node, list):
            return [fill(n) for n in node]
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        return node

    return fill(json.loads(template.read_text()))


def policy_text(config: StageConfig) -> str:
    return json.dumps(render(config), indent=2) + "\n"


def write(config: StageConfig) -> bool:
    """Write the stage's policy file; return True when its content changed.

    Pass ``load(stage, environ={})``: the file is for the deployed Lambda, whose names come from
    ``.chalice/config.json`` (= ``stages.json``), never from one shell's ``DIGITS_*`` overrides.
    """
    path, text = policy_path(config.stage), policy_text(config)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def check_account(config: StageConfig, session: boto3.Session) -> None:
    """Refuse credentials of another account than the stage's ``account_id`` (when it is set)."""
    if config.account_id is None:
        return
    account = session.client("sts").get_caller_identity()["Account"]
    if account != config.account_id:
        raise OpsError(
            f"these AWS credentials are for account {account}, but stage {config.stage!r} deploys to "
            f"{config.account_id} (account_id in stages.json)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", help="stage to write (repeatable; default: every stage)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for stage in args.stage or stage_names():
        config = load(stage, environ={})  # the committed files never carry one shell's DIGITS_* overrides
        path = policy_path(stage)
        if args.check:
            if not path.exists() or path.read_text() != policy_text(config):
                stale.append(path)
        elif write(config):
            print(f"wrote    {path.relative_to(ROOT)}")
        else:
            print(f"current  {path.relative_to(ROOT)}")
    for path in stale:
        print(f"policies: {path.relative_to(ROOT)} is out of date: run python -m ops.policies", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
