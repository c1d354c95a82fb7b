"""Shared fixtures: one MiniStack per test session on a free port with its own state folder.

``emulator`` starts it once (lazily: unit tests never pay for it) and stops it at the end, even on
failure; it points this process's boto3 at it through ``AWS_ENDPOINT_URL``. ``aws`` gives a test a
freshly reset and provisioned emulator (isolation between tests that write).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import StageConfig, load
from ops.emulator import Emulator, free_port, patched_environ
from ops.provision import provision

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("ministack")
    emu = Emulator(port=free_port(), state_dir=state, log_path=state / "ministack.log")
    emu.start()
    with patched_environ({**emu.client_env(), "DIGITS_STAGE": "local"}):
        try:
            yield emu
        finally:
            emu.stop()


@pytest.fixture
def aws(emulator: Emulator) -> StageConfig:
    """A reset emulator with the local stage provisioned; returns the stage configuration."""
    emulator.reset()
    config = load("local")
    provision(config)
    return config


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST training split missing at {MNIST_DIR} (see ../shared/data/mnist/README.md)")
    return MNIST_DIR


# The running local stack (endpoint, chalice local, event bridge) and the Chalice test client.
pytest_plugins = ["tests.stack_fixtures"]
