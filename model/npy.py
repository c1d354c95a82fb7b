"""NumPy request and response bodies, as the SageMaker SDK's ``NumpySerializer``/``NumpyDeserializer`` send and
read them (``application/x-npy``, ``application/x-npz``).

Untrusted input: pickles are never loaded (``allow_pickle=False``), and the array header (shape, dtype) is
checked before any data is read, so a small body that declares a huge shape allocates nothing.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np

from .contract import InputError

#: The most array elements a request may hold: 256 MNIST-size images (far more than any request carries).
MAX_ELEMENTS = 256 * 28 * 28


def read_npy(body: bytes) -> np.ndarray:
    """An ``.npy`` file's bytes -> its array. Raises :class:`~model.contract.InputError` ``invalid_pixels``
    for anything that is not a plain numeric array of at most :data:`MAX_ELEMENTS` elements."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, _, dtype = read_header[version](stream)
    except (ValueError, OSError, SyntaxError, TypeError, EOFError, KeyError):
        raise InputError("invalid_pixels", "the body is not an .npy array (numpy.save / NumpySerializer)") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError("invalid_pixels", f"the array must hold numbers, not {dtype}")
    if int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        raise InputError("invalid_pixels", f"the array's shape {list(shape)} is larger than {MAX_ELEMENTS:,} values")
    try:
        return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise InputError("invalid_pixels", "the .npy array is truncated or damaged") from None


def read_npz(body: bytes) -> np.ndarray:
    """An ``.npz`` file holding exactly one array -> that array (:func:`read_npy` rules for it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
            if len(members) != 1:
                raise InputError("invalid_pixels", f"the .npz must hold exactly one array, not {len(members)}")
            if members[0].file_size > MAX_ELEMENTS * 8 + 4096:  # a zip bomb is refused before it is inflated
                raise InputError("invalid_pixels", f"the array is larger than {MAX_ELEMENTS:,} values")
            return read_npy(archive.read(members[0]))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError):
        raise InputError("invalid_pixels", "the body is not an .npz archive (numpy.savez)") from None


def write_npy(array: np.ndarray) -> bytes:
    """An array -> ``.npy`` bytes (what ``NumpyDeserializer`` reads)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
