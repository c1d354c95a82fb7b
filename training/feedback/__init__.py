"""The feedback loop: users' corrections become a training channel, a challenger model, a gated promotion.

``python -m training.feedback export|promote|rollback|status --stage STAGE`` (``docs/feedback-loop.md``):

* :mod:`~training.feedback.channel`: the channel's layout on disk (manifest and images) and reading it back;
* :mod:`~training.feedback.export`: corrected and confirmed predictions of a stage into the channel;
* :mod:`~training.feedback.finetune`: what ``training/train.py`` does with the channel and ``--init-model``;
* :mod:`~training.feedback.gate`: challenger against champion, on the validation split and held-out feedback;
* :mod:`~training.feedback.registry`: the local model registry (``.local/models/registry.json``);
* :mod:`~training.feedback.model_registry`: the SageMaker Model Registry and the endpoint update (AWS stages);
* :mod:`~training.feedback.simulate`: users who write slanted digits, to try the loop.
"""
