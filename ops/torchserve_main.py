"""Start the SageMaker PyTorch serving stack (TorchServe + sagemaker-pytorch-inference) as its container does.

Run by the serving stack's own interpreter (``.venv-serving/bin/python ops/torchserve_main.py``), never
imported by the project: it needs the toolkit, which the project's environment does not have. The caller
(:mod:`ops.serving_stack`) sets the container's environment: ``SAGEMAKER_BASE_DIR`` (stands in for
``/opt/ml``; the unpacked ``model.tar.gz`` is in ``<base>/model``), ``SAGEMAKER_PROGRAM``,
``SAGEMAKER_BIND_TO_PORT`` and the loopback-only ``TS_*`` addresses.

The container's entry point is ``sagemaker_pytorch_serving_container.serving.main()``. Two things a
container has and a shared machine has not are adapted first: its TorchServe configuration goes to the
base folder instead of ``/etc/sagemaker-ts.properties``, and the TorchServe process it waits on is looked
for in its own session (the caller starts it in a new one) instead of among every process of the machine
(where it would refuse to start beside another stack). Everything else (the configuration it generates,
the handler service, TorchServe) is theirs.
"""

import os
import sys

import psutil
from retrying import retry
from sagemaker_pytorch_serving_container import serving, torchserve


@retry(stop_max_delay=10 * 1000)  # as the toolkit's own lookup: TorchServe takes a moment to appear
def _own_torchserve_process() -> psutil.Process:
    """TorchServe's JVM among the processes of this launcher's session. Not among its descendants: the
    JVM is spawned by ``torchserve --start``, which exits, and an orphan is adopted by init."""
    session = os.getsid(0)
    for process in psutil.process_iter():
        try:
            if (
                os.getsid(process.pid) == session
                and process.status() != psutil.STATUS_ZOMBIE
                and torchserve.TS_NAMESPACE in process.cmdline()
            ):
                return process
        except (OSError, psutil.Error):  # gone meanwhile, or not ours to inspect
            continue
    raise RuntimeError("TorchServe did not start")


if __name__ == "__main__":
    torchserve.TS_CONFIG_FILE = os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "sagemaker-ts.properties")
    torchserve._retrieve_ts_server_process = _own_torchserve_process
    serving.main()
    sys.exit(0)
