"""The SageMaker workflow CLI: ``python -m training.cloud <command>``.

Commands: ``upload-data`` (MNIST IDX files to the training channel's S3 prefix), ``train`` (one
managed-spot training job), ``tune`` (a hyperparameter tuning job over :data:`training.search_space.SEARCH_SPACE`),
``best`` (a tuning job's best training job and its metrics), ``deploy`` (a model to a real-time or
serverless endpoint), ``update`` (an endpoint to a new model, without downtime) and ``delete``.

Modules: :mod:`.cli` (arguments, one-line errors), :mod:`.context` (stage, region, role, bucket,
names, images), :mod:`.source` (the code uploaded for training), :mod:`.jobs` (data, training,
tuning) and :mod:`.hosting` (endpoints). The SageMaker SDK (v3) is imported lazily inside the
functions that call it: importing this package, or anything on the Lambda and endpoint paths, never
imports ``sagemaker``.
"""
