"""Operations tooling: the local AWS emulator, provisioning, the S3 event bridge and the local stack.

Nothing here runs in AWS. :mod:`ops.emulator` starts, stops and health-checks MiniStack (its own venv,
``.venv-aws``); :mod:`ops.provision` creates the stage's buckets, tables and queue, against the emulator
or real AWS (with :mod:`ops.retention` and the stage's IAM policy file from :mod:`ops.policies`);
:mod:`ops.throttling` sets API Gateway's limits after ``chalice deploy``; later modules add the event
bridge and the process supervisor behind ``make up``.
"""
