"""Code shared by every part of the service that talks to AWS.

This is the one package the Lambda bundle ships besides ``app.py`` (Chalice packages only
``app.py``, ``chalicelib/`` and ``requirements.txt``), so everything that the Lambda *and* another
part need lives here: the per-stage configuration (:mod:`chalicelib.config`), and, added by later
modules, the prediction store and the SageMaker endpoint client. ``make setup`` puts
``chalice_app/`` on the project venv's path, so provisioning, the endpoint, the UI and the tests import
``chalicelib`` exactly as the Lambda does. Nothing here may import torch or the SageMaker SDK.
"""
