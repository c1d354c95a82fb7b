"""Training: the SageMaker entry script, MNIST loading, the hyperparameter search space, local tuning
(Optuna), evaluation and plots, and the SageMaker workflow CLI (upload data, train on spot, tune, deploy).

Only this package imports the SageMaker SDK, and only lazily, inside the CLI commands that need it.
"""

import os

# Sleeping, not spinning, OpenMP threads: on a shared CPU spinning threads burned ~3x the CPU time per
# training step and slowed everyone down. Must be set before torch starts its thread pool.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
