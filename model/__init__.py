"""The digit model and everything that serves it: network, image preprocessing, SageMaker inference
handlers, the command-line predictor and the local endpoint server.

This package ships inside ``model.tar.gz`` as ``code/model/`` and must run in the SageMaker PyTorch
inference containers (torch 2.6, Python 3.12): torch, numpy and Pillow only, relative imports, nothing
from the rest of the repository.
"""
