"""Row arrays larger than memory: kept in a file on disk, written and read by chunks.

An analysis of a million images cannot hold every image and descriptor at once (a
million 32x32 colour images are 12 GiB as float32). ``DiskRows`` keeps rows in a plain
file and maps only the rows asked for, and only while they are read, so resident memory
stays the size of a chunk. ``row_chunks`` and ``take_rows`` read an in-memory array and a
``DiskRows`` alike; a set that fits one chunk is processed exactly as one array, so small
analyses give the same numbers whichever holds their rows.
"""

import glob
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager

import numpy as np

CHUNK_ROWS = 16_384
"""Rows per chunk: a 32x32 colour chunk is 192 MiB as float32; with the float64 copies
the wavelets make, about 1 GiB at the peak (65,536 rows peaked at 3.3 GiB)."""


SCRATCH_PREFIX = "fiftyone-redundancy-run-"
OWNER_FILE = "owner"


@contextmanager
def scratch_folder():
    """A temporary folder for a streamed run's rows (gigabytes at a million images), gone
    when the run ends. A run killed outright (kill -9) cannot remove its own, so each
    folder names its process; a new run first removes the folders of this machine whose
    process has died, and never a folder it cannot tell is one of these."""
    _remove_orphans()
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as folder:
        with open(os.path.join(folder, OWNER_FILE), "w") as owner:
            owner.write(f"{os.getpid()} {socket.gethostname()}")
        yield folder


def _remove_orphans():
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), SCRATCH_PREFIX + "*")):
        try:
            with open(os.path.join(folder, OWNER_FILE)) as owner:
                pid, host = owner.read().split()
        except (OSError, ValueError):
            continue  # being created, or not a run's folder
        if host == socket.gethostname() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class DiskRows:
    """``(n, *row_shape)`` values of ``dtype`` in a file under ``folder``; rows are
    written by ``write`` and read by ``read`` / ``take`` (a copy each time)."""

    def __init__(self, n, row_shape, dtype, folder):
        self.shape = (int(n), *tuple(int(side) for side in row_shape))
        self.dtype = np.dtype(dtype)
        handle, self.path = tempfile.mkstemp(suffix=".rows", dir=folder)
        os.close(handle)
        with open(self.path, "r+b") as file:
            file.truncate(max(1, int(np.prod(self.shape)) * self.dtype.itemsize))

    def __len__(self):
        return self.shape[0]

    def keep_first(self, n):
        """Keep only the first ``n`` rows (the rest were never written)."""
        self.shape = (int(n), *self.shape[1:])

    @property
    def ndim(self):
        return len(self.shape)

    def _mapped(self, mode="r"):
        return np.memmap(self.path, self.dtype, mode, shape=self.shape)

    def write(self, start, rows):
        mapped = self._mapped("r+")
        mapped[start : start + len(rows)] = rows
        mapped.flush()
        del mapped  # unmapped: the written pages leave this process's resident set

    def read(self, start=0, stop=None):
        mapped = self._mapped()
        rows = np.array(mapped[start:stop])
        del mapped
        return rows

    def take(self, indices):
        """The rows at ``indices`` (any order, repeats allowed), read with positioned
        reads: through a memory map, every page the kernel maps around each row would
        count in this process's resident memory while it reads (2 GiB for 30,000
        scattered rows of a million images' store, as fast either way)."""
        indices = np.asarray(indices, dtype=np.int64)
        indices = np.where(indices < 0, indices + len(self), indices)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row indices must lie in [0, {len(self)}), got {indices.min()}..{indices.max()}")
        rows, inverse = np.unique(indices, return_inverse=True)
        values = np.empty((len(rows), *self.shape[1:]), self.dtype)
        data = values.reshape(len(rows), int(np.prod(self.shape[1:], dtype=np.int64))).view(np.uint8)
        runs = np.flatnonzero(np.diff(rows, prepend=-2) != 1)  # first row of each run of consecutive rows
        with open(self.path, "rb", buffering=0) as file:
            for start, stop in zip(runs.tolist(), [*runs[1:].tolist(), len(rows)]):
                _read_into(file, data[start:stop], int(rows[start]) * data.shape[1])
        # a shard asks for its rows sorted and once each: they need no second copy
        return values if np.array_equal(rows, indices) else values[inverse.reshape(indices.shape)]


def _read_into(file, buffer, offset):
    """Fill ``buffer`` (a contiguous array) with the bytes of ``file`` from ``offset``."""
    view = memoryview(buffer).cast("B")
    file.seek(offset)
    while view.nbytes:
        read = file.readinto(view)
        if not read:
            raise EOFError(f"{file.name} ends before byte {offset + buffer.nbytes}")
        view = view[read:]


class ImageStore(DiskRows):
    """Decoded images as uint8 on disk; read back as the float32 values in [0, 1] the
    decoder gives (``k / 255`` exactly, so nothing changes for the analysis)."""

    def __init__(self, n, image_shape, folder):
        super().__init__(n, image_shape, np.uint8, folder)

    def write(self, start, rows):
        rows = np.asarray(rows)
        super().write(start, rows if rows.dtype == np.uint8 else np.rint(rows * 255.0).astype(np.uint8))

    def read(self, start=0, stop=None):
        return unit_floats(super().read(start, stop))

    def take(self, indices):
        return unit_floats(super().take(indices))


def unit_floats(stored):
    """Stored uint8 ``k`` as the decoder's float32 ``k / 255``, divided in place: one new
    array instead of two (a million-image verification spent 6% of its time converting
    the rows its shards read)."""
    values = stored.astype(np.float32)
    values /= np.float32(255.0)
    return values


class RowSubset(DiskRows):
    """The rows ``members`` of a ``DiskRows``, read like one (by chunks, or by index)
    without copying them to a file of their own."""

    def __init__(self, rows, members):
        self.rows = rows
        self.members = np.asarray(members, dtype=np.int64)
        self.shape = (len(self.members), *rows.shape[1:])
        self.dtype = rows.dtype
        self.path = rows.path

    def keep_first(self, n):
        raise TypeError("a row subset cannot be shortened")

    def write(self, start, rows):
        raise TypeError("a row subset is read-only")

    def read(self, start=0, stop=None):
        return self.rows.take(self.members[start:stop])

    def take(self, indices):
        return self.rows.take(self.members[np.asarray(indices, dtype=np.int64)])


def subset(rows, members):
    """The rows ``members`` of an array (a copy) or of a ``DiskRows`` (a ``RowSubset``)."""
    members = np.asarray(members, dtype=np.int64)
    return RowSubset(rows, members) if isinstance(rows, DiskRows) else rows[members]


def row_chunks(rows, chunk_rows=None):
    """``(start, chunk)`` over the rows of an array or a ``DiskRows`` (``CHUNK_ROWS``
    rows each unless told)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    for start in range(0, len(rows), chunk_rows):
        stop = min(start + chunk_rows, len(rows))
        yield start, rows.read(start, stop) if isinstance(rows, DiskRows) else rows[start:stop]


def take_rows(rows, indices):
    """The rows at ``indices`` of an array or a ``DiskRows``."""
    return rows.take(indices) if isinstance(rows, DiskRows) else rows[np.asarray(indices, dtype=np.int64)]


def in_memory(rows):
    """An array of all the rows (a ``DiskRows`` read whole)."""
    return rows.read() if isinstance(rows, DiskRows) else rows


def map_rows(rows, function, folder=None, chunk_rows=None):
    """``function`` applied to every chunk of ``rows``: an array from an array, a
    ``DiskRows`` in ``folder`` from a ``DiskRows`` (or when ``folder`` is given)."""
    if not isinstance(rows, DiskRows) and folder is None:
        return function(rows)
    mapped = None
    for start, chunk in row_chunks(rows, chunk_rows):
        result = function(chunk)
        if mapped is None:
            mapped = DiskRows(len(rows), result.shape[1:], result.dtype, folder or os.path.dirname(rows.path))
        mapped.write(start, result)
    return mapped


def gram(rows, centre=None, chunk_rows=None):
    """``(rows - centre)^T (rows - centre)`` in float64 (``centre`` None: no centring),
    accumulated chunk by chunk: a d x d matrix whatever the number of rows."""
    total = 0.0
    for _, chunk in row_chunks(rows, chunk_rows):
        chunk = np.asarray(chunk, dtype=np.float64)
        if centre is not None:
            chunk = chunk - centre
        total = total + chunk.T @ chunk
    return total


def column_means(rows, chunk_rows=None):
    """Mean of every column, in float64, chunk by chunk."""
    total = sum(np.asarray(chunk, dtype=np.float64).sum(axis=0) for _, chunk in row_chunks(rows, chunk_rows))
    return total / len(rows)
