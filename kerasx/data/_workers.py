"""Worker processes that load a `DataGenerator`'s batches: started once, reused every epoch.

A generator with `use_multiprocessing=True` is fed by a `WorkerPool` (see `worker_pool`):
`workers` processes that load batches on request. The parent computes each batch's indices
from the epoch's permutation and sends them with the epoch; a worker only calls `load_batch`.
The pool starts on the first request (or `open()`), serves every epoch and validation pass
after it, and stops at `close()`, when the generator is garbage-collected, or at interpreter
exit (before multiprocessing ends its children, see `worker_pool`).

On Linux the workers are forked, as Keras's own pool does (`start_method`): each starts in
milliseconds, shares the generator's arrays copy-on-write, and imports nothing again, so a
script without an `if __name__ == "__main__":` guard runs its code once. Elsewhere they use
the platform's default (spawn on macOS and Windows) and receive a pickled copy.

Failures never hang: an error in `load_batch` is raised as the `DataError` that names the batch,
with the worker's traceback as its cause, and a worker that dies (killed by a signal, out of
memory) fails every waiting request with a `DataError` naming it and its exit code. Either
stops the pool: its other workers are ended.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import multiprocessing
import multiprocessing.util
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing import connection
from typing import Any

from kerasx.data._checks import check_picklable
from kerasx.errors import DataError

__all__ = ["WorkerPool", "close_worker_pool", "worker_pool"]

_POLL_SECONDS = 1.0
"""How often an idle worker checks that the process that started it is still there."""

_EXIT_SECONDS = 1.0
"""How long `close()` waits for workers to exit by themselves before ending them."""

_EXIT_PRIORITY = 10
"""When a pool closes at exit among multiprocessing's finalizers: those of priority >= 0 run
before it ends its children (`multiprocessing.util._exit_function`)."""

_POOL_ATTRIBUTE = "_kx_pool"
"""Where `worker_pool` keeps a generator's pool (left out of pickled copies)."""

_PARENT_ENDS: set[Any] = set()
"""The parent's ends of the pipes of every pool in this process (closed in forked workers)."""

_PARENT_FDS: set[int] = set()
"""The file descriptors of every pool's wake pipe (closed in forked workers)."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, as text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f"\n\nIn the worker process:\n{self.text}"


# ---------------------------------------------------------------------- the worker process


def _worker_main(conn: Any, source: Any, parent: int) -> None:
    """The loop of one worker: get the generator, then load what the parent asks.

    `source` is the generator itself when the worker was forked, else the generator pickled.

    The parent (process `parent`) decides when a worker ends: Ctrl-C and SIGTERM sent to the
    whole process group are for it (`kerasx.fit` stops at a batch boundary on SIGTERM, and
    still needs its batches). A worker exits when its pipe closes or the parent is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _mask_signals("SIG_UNBLOCK", _PARENT_SIGNALS)  # blocked since the fork
    _close_parent_ends()
    try:
        generator = pickle.loads(source) if isinstance(source, bytes) else _forked(source)
    except BaseException:
        _reply(conn, (-1, "failed", traceback.format_exc()))
        return
    _reply(conn, (-1, "ready", os.getpid()))
    while True:
        try:
            if not conn.poll(_POLL_SECONDS):
                if not _alive(parent):
                    return
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pool, or died
        if message is None:
            return
        if not _reply(conn, _load(generator, *message)):
            return


_PARENT_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _mask_signals(how: str, signals: Any) -> Any:
    """`signal.pthread_sigmask(signal.<how>, signals)` in this thread, where there is one.

    The parent's thread blocks Ctrl-C and SIGTERM while it starts a worker, so that the new
    process holds them back (it inherits the mask) until it ignores them: one sent to the
    whole process group in between would kill it otherwise.

    Returns:
        The previous mask (empty without `pthread_sigmask`).
    """
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        return set()
    return signal.pthread_sigmask(getattr(signal, how), signals)


def _close_parent_ends() -> None:
    """Close, in a forked worker, the parent's ends of every pool's pipes it inherited.

    Otherwise a pool's workers would not see EOF when it closes while a worker of another
    pool (or a later worker of the same pool) holds a copy of the parent's end.
    """
    for end in list(_PARENT_ENDS):  # no other thread runs in a new child: no lock needed
        end.close()
    for fd in list(_PARENT_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _PARENT_ENDS.clear()
    _PARENT_FDS.clear()


def _forked(generator: Any) -> Any:
    """The inherited generator, with a new lock for its epoch counter: a thread of the parent
    may have held the old one when this process was forked."""
    generator._kx_epochs = copy.copy(generator._kx_epochs)
    return generator


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process took the pid
        return False
    return True


def _load(generator: Any, task: int, index: int, epoch: int, indices: Any) -> tuple[Any, ...]:
    """The reply to one request: the batch, or the error that names it."""
    generator._kx_epochs.set(epoch)  # so that `self.epoch` is right inside load_batch
    try:
        return (task, "batch", generator._load_indices(index, indices))
    except BaseException as error:
        return (task, "error", str(error), traceback.format_exc())


def _reply(conn: Any, reply: tuple[Any, ...]) -> bool:
    """Send `reply`; False once the parent is gone."""
    try:
        conn.send(reply)
    except (EOFError, OSError):
        return False
    except Exception as error:  # the batch does not pickle
        unsent = (
            f"A batch loaded in a worker process could not be sent back: {error!r}. "
            "Received: a batch that does not pickle. Return NumPy arrays (or numbers and "
            "strings) from load_batch."
        )
        return _reply(conn, (reply[0], "error", unsent, traceback.format_exc()))
    return True


# ---------------------------------------------------------------------- starting workers


def start_method() -> str:
    """`"fork"` on Linux, as Keras's own pool does; elsewhere the platform's default.

    Forked workers start in milliseconds, share the generator's arrays copy-on-write and do
    not import the main script again. macOS and Windows spawn fresh processes, which import
    the main script (whose training code must then be under `if __name__ == "__main__":`)
    and receive a pickled copy of the generator.

    Returns:
        The multiprocessing start method for the pool's workers.
    """
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    default = multiprocessing.get_start_method(allow_none=True)
    return default or multiprocessing.get_all_start_methods()[0]


def _pickled(generator: Any) -> bytes:
    """The generator pickled for a spawned worker.

    Raises:
        DataError: if it does not pickle (say an attribute set after `__init__` holds a lock
            or an open file), naming the attribute.
    """
    try:
        return pickle.dumps(generator, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        check_picklable(generator)  # raises the DataError naming the attribute
        raise DataError(
            f"{type(generator).__name__} has use_multiprocessing=True, so each worker "
            f"process receives a pickled copy of it, but it cannot be pickled ({error!r}). "
            "Received: use_multiprocessing=True. Make it picklable or use threads "
            "(use_multiprocessing=False)."
        ) from error


def _start_worker(context: Any, number: int, source: Any) -> _Worker:
    """Start worker process `number`; its pipe is closed if it cannot start."""
    mine, theirs = context.Pipe()
    _PARENT_ENDS.add(mine)
    process = context.Process(
        target=_worker_main, args=(theirs, source, os.getpid()),
        name=f"kerasx-data-worker-{number}", daemon=True,
    )
    mask = _mask_signals("SIG_BLOCK", _PARENT_SIGNALS)
    try:
        process.start()
    except BaseException:
        _PARENT_ENDS.discard(mine)
        mine.close()
        raise
    finally:
        _mask_signals("SIG_SETMASK", mask)
        theirs.close()
    return _Worker(number, process, mine)


@dataclass(eq=False)
class _Worker:
    """The parent's side of one worker process."""

    number: int
    process: Any
    conn: Any
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    tasks: set[int] = field(default_factory=set)
    ready: bool = False


@dataclass
class _Task:
    future: Future[Any]
    worker: _Worker
    index: int


# ---------------------------------------------------------------------- the pool


class WorkerPool:
    """Processes that load one generator's batches, started once and reused.

    Requests come from any thread (the `tf.data` threads of the feeds); each waits for its
    own batch, so a pipeline that keeps several requests in flight gets them back in its own
    order. See the module docstring for the life cycle.

    Args:
        generator: the `DataGenerator`. The pool keeps only a weak reference to it; forked
            workers inherit it, spawned ones receive it pickled when they start.
        processes: the number of worker processes.
    """

    def __init__(self, generator: Any, processes: int) -> None:
        self._generator = weakref.ref(generator)
        self._owner = generator._owner()
        self._processes = int(processes)
        self._state = "idle"
        self._state_lock = threading.Lock()
        self._books = threading.Lock()
        self._workers: list[_Worker] = []
        self._pending: dict[int, _Task] = {}
        self._tasks = itertools.count()
        self._failure: DataError | None = None
        self._reader: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        self.method = ""
        self.exitcodes: list[int | None] = []
        """The exit codes of the workers last stopped (0: they exited by themselves)."""

    @property
    def running(self) -> bool:
        """Whether the worker processes are running."""
        return self._state == "running"

    def pids(self) -> list[int]:
        """The process ids of the running workers."""
        return [w.process.pid for w in self._workers if self._state == "running"]

    def open(self) -> None:
        """Let the next request start the workers again after `close()` or a failure."""
        with self._state_lock:
            if self._state == "closed":
                self._reap()
                self._state, self._failure = "idle", None

    def load(self, index: int, epoch: int, indices: Any) -> Any:
        """Batch `index` of epoch `epoch`, loaded by a worker from `indices`.

        Starts the workers if they are not running (and the pool is not closed).

        Raises:
            DataError: if `load_batch` failed (naming the batch), a worker died (naming it
                and its exit code), or the pool was closed.
        """
        return self._submit(index, epoch, indices).result()

    def close(self) -> None:
        """Stop the workers and fail the requests still waiting. Safe to call repeatedly."""
        with self._state_lock:
            self._reap()
            self._state = "closed"

    def _reap(self) -> None:
        """Stop the reader thread (which stops the workers) and release its pipe."""
        reader, wake = self._reader, self._wake
        self._reader = self._wake = None
        if reader is not None and wake is not None:
            os.write(wake[1], b"x")  # the reader may have stopped already: then unread
            reader.join()
        if wake is not None:
            for fd in wake:
                _PARENT_FDS.discard(fd)  # before closing: a fork now must not close its reuse
                os.close(fd)

    # ------------------------------------------------------------------ requests

    def _submit(self, index: int, epoch: int, indices: Any) -> Future[Any]:
        with self._state_lock:
            if self._state == "closed":
                raise self._refusal()
            if self._state == "idle":
                self._start()
        future: Future[Any] = Future()
        with self._books:
            if self._failure is not None or not self._workers:
                raise self._refusal()
            worker = min(self._workers, key=lambda w: len(w.tasks))
            task = next(self._tasks)
            self._pending[task] = _Task(future, worker, index)
            worker.tasks.add(task)
        try:
            with worker.send_lock:
                worker.conn.send((task, index, epoch, indices))
        except (OSError, ValueError):
            # The worker died or the pool is being stopped: the task stays pending, and the
            # reader thread, which sees why, fails it with the cause.
            pass
        return future

    def _refusal(self) -> DataError:
        if self._failure is not None:
            return self._failure
        return DataError(
            f"The worker processes of {self._owner} were closed. Received: a request for a "
            "batch after close(). Start a new pass over the dataset (or a new fit), which "
            "starts them again."
        )

    def _finish(self, task: int, *, batch: Any = None, error: Exception | None = None) -> None:
        with self._books:
            entry = self._pending.pop(task, None)
            if entry is not None:
                entry.worker.tasks.discard(task)
        if entry is None or entry.future.done():
            return
        if error is None:
            entry.future.set_result(batch)
        else:
            entry.future.set_exception(error)

    # ------------------------------------------------------------------ starting

    def _start(self) -> None:
        generator = self._generator()
        if generator is None:  # pragma: no cover - a pipeline holds its generator
            raise self._refusal()
        self.method = start_method()
        context = multiprocessing.get_context(self.method)
        # A forked worker inherits the generator; a spawned one unpickles its own copy.
        source = generator if self.method == "fork" else _pickled(generator)
        workers: list[_Worker] = []
        try:
            for number in range(1, self._processes + 1):
                workers.append(_start_worker(context, number, source))
        except BaseException:
            self._stop_processes(workers)
            raise
        self._workers, self._failure = workers, None
        self._wake = os.pipe()
        _PARENT_FDS.update(self._wake)
        self._reader = threading.Thread(
            target=self._read, name="kerasx-data-worker-results", daemon=True
        )
        self._state = "running"
        self._reader.start()

    # ------------------------------------------------------------------ results

    def _read(self) -> None:
        """The reader thread: hand each result to its request; stop the pool on a failure."""
        assert self._wake is not None
        wake = self._wake[0]
        failure: DataError | None = None
        try:
            while failure is None:
                waitables = [wake]
                for worker in self._workers:
                    waitables += [worker.conn, worker.process.sentinel]
                ready = connection.wait(waitables)
                if wake in ready:
                    break
                failure = self._handle(ready)
        except Exception as error:  # pragma: no cover - a bug here must not hang training
            failure = DataError(f"Reading batches from worker processes failed: {error!r}.")
        self._shut_down(failure)

    def _handle(self, ready: list[Any]) -> DataError | None:
        for worker in self._workers:
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    return self._death(worker)
                failure = self._dispatch(worker, message)
                if failure is not None:
                    return failure
            elif worker.process.sentinel in ready:
                return self._death(worker)
        return None

    def _dispatch(self, worker: _Worker, message: tuple[Any, ...]) -> DataError | None:
        task, kind = message[0], message[1]
        if kind == "batch":
            self._finish(task, batch=message[2])
            return None
        if kind == "ready":
            worker.ready = True
            return None
        if kind == "failed":
            return self._startup_failure(worker, message[2])
        error = DataError(message[2])
        error.__cause__ = RemoteTraceback(message[3])
        return error  # load_batch failed: every waiting request gets this error

    def _startup_failure(self, worker: _Worker, text: str) -> DataError:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        error = DataError(
            f"Worker process {worker.number} of {self._owner} could not unpickle its copy of "
            f"the generator: {last}. Received: use_multiprocessing=True. A worker is a new "
            "Python process: it imports the module that defines the generator's class (and "
            "your script, as multiprocessing does). Define the class in a module that imports "
            "without side effects, put a script's training code under `if __name__ == "
            "\"__main__\":`, or use threads (use_multiprocessing=False)."
        )
        error.__cause__ = RemoteTraceback(text)
        return error

    def _death(self, worker: _Worker) -> DataError:
        worker.process.join(_EXIT_SECONDS)
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:  # pragma: no cover - an unnamed signal
                name = f"signal {-code}"
            how = f"was killed by {name} (exit code {code})"
        else:
            how = f"exited with code {code}" if code is not None else "closed its connection"
        with self._books:
            batches = sorted(self._pending[t].index for t in worker.tasks if t in self._pending)
        doing = f"while loading batch {batches[0]}" if batches else "while idle"
        hint = (
            "A worker killed by the system is often out of memory: use fewer workers or "
            "smaller batches."
        )
        if not worker.ready:
            doing = "before it could load a batch (its error, if any, is printed above)"
        if not worker.ready and self.method != "fork":
            hint = (
                "A worker imports your main script again, as multiprocessing's children do: "
                "put the script's training code under `if __name__ == \"__main__\":`."
            )
        return DataError(
            f"Worker process {worker.number} of {self._processes} loading {self._owner}'s "
            f"batches (pid {worker.process.pid}) {how} {doing}; the other workers were "
            f"stopped. Received: a worker process that ended. {hint}"
        )

    # ------------------------------------------------------------------ stopping

    def _shut_down(self, failure: DataError | None) -> None:
        """End the workers and fail the waiting requests (in the reader thread, last)."""
        with self._books:
            self._failure = failure if failure is not None else self._refusal()
            waiting = list(self._pending.values())
            self._pending.clear()
            workers, self._workers = self._workers, []
        # The processes first: once a request fails, no worker of this pool is left.
        self.exitcodes = self._stop_processes(workers)
        for entry in waiting:
            if not entry.future.done():
                entry.future.set_exception(self._failure)
        if failure is not None:
            self._state = "closed"  # until `open()`; `close()` or `open()` reaps this thread

    @staticmethod
    def _stop_processes(workers: list[_Worker]) -> list[int | None]:
        """End `workers`; their exit codes (-9 for those ended with SIGKILL)."""
        for worker in workers:
            # An idle worker sees EOF and exits at once. A request still being sent holds
            # the lock; ending the worker makes that send fail and let go of it. Workers
            # ignore SIGTERM (see `_worker_main`), so they are ended with SIGKILL.
            if not worker.send_lock.acquire(timeout=_EXIT_SECONDS):
                worker.process.kill()
                worker.send_lock.acquire()
            try:
                _PARENT_ENDS.discard(worker.conn)
                worker.conn.close()
            finally:
                worker.send_lock.release()
        deadline = time.monotonic() + _EXIT_SECONDS
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        codes: list[int | None] = []
        for worker in workers:
            if worker.process.exitcode is None:  # busy in load_batch
                worker.process.kill()
                worker.process.join()
            codes.append(worker.process.exitcode)
            worker.process.close()
        return codes


# ---------------------------------------------------------------------- one pool per generator


def worker_pool(generator: Any) -> WorkerPool:
    """The generator's `WorkerPool`, made on first use (its processes start on first request).

    It lives as long as the generator: `close_worker_pool` (`DataGenerator.close()`) stops
    its processes, and they stop when the generator is garbage-collected or Python exits.
    At exit the pool closes among multiprocessing's own finalizers, before multiprocessing
    terminates and joins its children (which ignore SIGTERM, see `_worker_main`): closed
    later, the join would wait forever.

    Args:
        generator: a `DataGenerator` with `use_multiprocessing=True`.

    Returns:
        The pool, with `workers` processes (one for a generator without random access,
        which reads its batches in order).
    """
    pool = generator.__dict__.get(_POOL_ATTRIBUTE)
    if pool is None:
        processes = generator.workers if generator._random_access else 1
        pool = WorkerPool(generator, processes)
        generator.__dict__[_POOL_ATTRIBUTE] = pool
        multiprocessing.util.Finalize(generator, pool.close, exitpriority=_EXIT_PRIORITY)
    return pool


def close_worker_pool(generator: Any) -> None:
    """Stop the generator's worker processes, if it has any running.

    Args:
        generator: a `DataGenerator`.
    """
    pool = generator.__dict__.get(_POOL_ATTRIBUTE)
    if pool is not None:
        pool.close()
