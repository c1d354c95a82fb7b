"""Start the SageMaker PyTorch serving stack (TorchServe + sagemaker-pytorch-inference) as its container does.

Run by the serving stack's own interpreter (``.venv-serving/bin/python ops/torchserve_main.py``), never
imported by the project: it needs the toolkit, which the project's environment does not have. The caller
(:mod:`ops.serving_stack`) sets the container's environment: ``SAGEMAKER_BASE_DIR`` (stands in for
``/opt/ml``; the unpacked ``model.tar.gz`` is in ``<base>/model``), ``SAGEMAKER_PROGRAM``,
``SAGEMAKER_BIND_TO_PORT`` and the loopback-only ``TS_*`` addresses.

The container's entry point is ``sagemaker_pytorch_serving_container.serving.main()``; it writes its
TorchServe configuration to ``/etc/sagemaker-ts.properties``, so this points that at the base folder
first. Everything else (the configuration it generates, the handler service, TorchServe) is theirs.
"""

import os
import sys

from sagemaker_pytorch_serving_container import serving, torchserve

if __name__ == "__main__":
    torchserve.TS_CONFIG_FILE = os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "sagemaker-ts.properties")
    serving.main()
    sys.exit(0)
