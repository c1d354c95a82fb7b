"""Dynamic micro-batching for the local endpoint (like TorchServe's ``batch_size`` / ``max_batch_delay``).

Concurrent requests each submit their decoded input; one worker collects them into a batch and runs a
single model call for all of them in a worker thread, then hands every request its own result.

A batch closes when it is full (``max_batch_size``), when ``max_delay_s`` has passed since its first
item, or as soon as no other request is on its way (:meth:`MicroBatcher.arriving` counts requests
that are still being decoded): a lone request is never held back waiting for company.

A batch that fails as a whole is retried item by item, so one bad input fails only its own request.
Local-server only: asyncio, no torch, nothing here runs inside the SageMaker container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class BatchStats:
    """How many model calls ran and how big they were (``GET /metrics`` shows them)."""

    batches: int = 0
    items: int = 0
    sizes: Counter[int] = field(default_factory=Counter)

    def record(self, size: int) -> None:
        self.batches += 1
        self.items += size
        self.sizes[size] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "items": self.items,
            "max_batch_size_seen": max(self.sizes, default=0),
            "mean_batch_size": round(self.items / self.batches, 3) if self.batches else 0.0,
            "batch_sizes": {str(size): count for size, count in sorted(self.sizes.items())},
        }


@dataclass
class _Pending:
    data: Any
    future: asyncio.Future[tuple[Any, int]]


class MicroBatcher:
    """Runs ``predict_many(list_of_data)`` over concurrent submissions; ``predict_one(data)`` for a batch of one.

    Both callables run in one dedicated thread, so the model only ever sees one call at a time.
    Start with :meth:`start` inside the running event loop; :meth:`stop` cancels the worker.
    """

    def __init__(
        self,
        predict_many: Callable[[list[Any]], list[Any]],
        predict_one: Callable[[Any], Any],
        max_batch_size: int = 16,
        max_delay_s: float = 0.005,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")
        self.predict_many = predict_many
        self.predict_one = predict_one
        self.max_batch_size = max_batch_size
        self.max_delay_s = max_delay_s
        self.stats = BatchStats()
        self._queue: deque[_Pending] = deque()
        self._arriving = 0
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=True, cancel_futures=True)

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Announce a request that will probably :meth:`submit` soon (wrap its decoding in this)."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            self._wakeup.set()

    async def submit(self, data: Any) -> tuple[Any, int]:
        """Queue ``data``; returns ``(prediction, size of the batch it ran in)`` or raises its error."""
        future: asyncio.Future[tuple[Any, int]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(data, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            try:
                await self._execute(batch)
            except Exception as exc:  # never let the worker die: fail this batch, serve the next one
                log.exception("micro-batch worker failed")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _collect(self) -> list[_Pending]:
        loop = asyncio.get_running_loop()
        while not self._queue:
            self._wakeup.clear()
            await self._wakeup.wait()
        deadline = loop.time() + self.max_delay_s
        while len(self._queue) < self.max_batch_size and self._arriving > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        size = min(len(self._queue), self.max_batch_size)
        return [self._queue.popleft() for _ in range(size)]

    async def _execute(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        batch = [item for item in batch if not item.future.cancelled()]  # client went away
        if not batch:
            return
        self.stats.record(len(batch))
        if len(batch) == 1:
            await self._execute_one(batch[0], 1)
            return
        try:
            results = await loop.run_in_executor(self._executor, self.predict_many, [item.data for item in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"predict_many returned {len(results)} results for {len(batch)} inputs")
        except Exception:
            log.warning("batch of %d failed; retrying its items one by one", len(batch), exc_info=True)
            for item in batch:
                await self._execute_one(item, len(batch))
            return
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result((result, len(batch)))

    async def _execute_one(self, item: _Pending, batch_size: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self.predict_one, item.data)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(exc)
        else:
            if not item.future.done():
                item.future.set_result((result, batch_size))
