"""Make a loader's next batches in a background thread, so the training loop's host never waits on them.

On a GPU the training process's host queues kernels ahead of the device; whatever else that host
does per step (drawing the views' parameters, launching the views' kernels) is time the queue does
not grow. If the step's own queueing already takes about as long as the device's work, that extra
host time idles the device (issue #9: +aug with device views at 0.86 of the step rate on an H200,
where −aug ran at the step's rate). :func:`made_ahead` runs the producing iterator in one background
thread, ``depth`` items ahead, on its own CUDA stream; the consumer's stream waits for each item's
event before using it. PyTorch releases the GIL inside its operators, so the two threads' host work
overlaps.

The producer is one thread consuming its iterator in order, so the items, and every random draw made
while producing them, are exactly those of a plain loop (tests/test_ahead.py).

Measured on one H200 (docs/gpu.md, third lease; ``data.views_ahead: 2`` against 0, game −shared, ResNet-50):
+11%, −12% and +1% end to end in three paired timings, inside that machine's noise. No reliable gain, so
it is off by default and no shipped config uses it; it stays for hosts whose training process is
slower to queue (fewer or slower cores), where it has not been measured.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import nullcontext

import torch

_END = object()
# the consumer's wait for the next item, as torch.profiler names it (benchmarks/end_to_end.py --profile)
WAIT_LABEL = "emcom.made_ahead.wait"


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _tensors(item) -> Iterator[torch.Tensor]:
    if isinstance(item, torch.Tensor):
        yield item
    elif isinstance(item, (tuple, list)):
        for part in item:
            yield from _tensors(part)


def made_ahead(items: Iterable, depth: int, device: torch.device) -> Iterator:
    """Yield ``items`` in order while a background thread produces up to ``depth`` of them ahead.

    On CUDA the producer runs on a side stream of ``device``: each item's tensors are marked as used by
    the consumer's current stream (``record_stream``, so the allocator does not reuse them early) and
    that stream waits for the item's event. An exception in the producer is raised in the consumer.
    Leaving the loop early (``break``) stops the producer, which closes ``items`` (a DataLoader
    iterator then shuts its workers down).
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    side = torch.cuda.Stream(device) if device.type == "cuda" else None

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            # the current device is per thread: a rank's producer must launch on that rank's GPU, not GPU 0
            with (torch.cuda.device(device) if side is not None else nullcontext()), \
                    (torch.cuda.stream(side) if side is not None else nullcontext()):
                for item in iterator:
                    ready = None
                    if side is not None:
                        ready = torch.cuda.Event()
                        ready.record(side)
                    if not put((item, ready)):
                        return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="emcom-made-ahead", daemon=True)
    thread.start()
    try:
        while True:
            with torch.profiler.record_function(WAIT_LABEL):
                entry = slots.get()
            if entry is _END:
                return
            if isinstance(entry, _Failure):
                raise entry.error
            item, ready = entry
            if ready is not None:
                consumer = torch.cuda.current_stream(device)
                consumer.wait_event(ready)
                for tensor in _tensors(item):
                    if tensor.device.type == "cuda":
                        tensor.record_stream(consumer)
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue, then let it close
            try:
                slots.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()
