"""SageMaker training entry point, copied to the root of the uploaded source as ``train_entry.py``.

The uploaded source holds the ``training`` and ``model`` packages side by side, as in the repository.
Run as a script (``python train_entry.py --lr 0.001 ...``, by ModelTrainer's driver or by the DLC's
training toolkit under a tuning job), this file's folder is ``sys.path[0]``, so ``training.train``
and its ``from model.network import ...`` import as they do at home; ``python training/train.py``
would not find ``model``.

Two container defaults are added when the arguments do not set them:

- ``--checkpoint-dir /opt/ml/checkpoints/<training job name>``: the jobs of one tuning job share a
  checkpoint S3 location, and a spot restart of a job must find its own checkpoint, not a sibling's.
- ``--threads <CPUs of the instance>``: the script's default suits a laptop.

Standard library only, no repository imports before ``runpy`` hands over.
"""

from __future__ import annotations

import os
import runpy
import sys

CHECKPOINT_ROOT = "/opt/ml/checkpoints"


def container_defaults(argv: list[str], environ: dict[str, str] | os._Environ) -> list[str]:
    """The arguments to append to ``argv`` inside a training job."""
    given = {arg.split("=", 1)[0].replace("_", "-") for arg in argv if arg.startswith("--")}
    extra: list[str] = []
    job = environ.get("TRAINING_JOB_NAME")
    if job and "--checkpoint-dir" not in given:
        extra += ["--checkpoint-dir", f"{CHECKPOINT_ROOT}/{job}"]
    if "--threads" not in given:
        extra += ["--threads", str(os.cpu_count() or 1)]
    return extra


def main() -> None:
    sys.argv += container_defaults(sys.argv[1:], os.environ)
    runpy.run_module("training.train", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
