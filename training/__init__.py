"""Training: the SageMaker entry script, MNIST loading, the hyperparameter search space, local tuning
(Optuna), evaluation and plots, and the SageMaker workflow CLI (upload data, train on spot, tune, deploy).

Only this package imports the SageMaker SDK, and only lazily, inside the CLI commands that need it.
"""
