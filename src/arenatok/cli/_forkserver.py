"""Preloaded by the multiprocessing fork server that starts the worker processes (and only
there). Ctrl-C and SIGTERM reach the whole process group; the parent handles them and shuts the
pool down. The fork server ignores both (if one ended it, the pool would think every worker
dead), and its workers inherit that from their first instruction: a worker that a signal ended
while it started would print a traceback. It starts with both blocked
(`runtime.workers.start_early`) and unblocks them here, once they are ignored. It exits by
itself when the parent does."""

import contextlib
import os
import signal

# A worker is one of as many processes as there are cores: BLAS threads of its own would only
# contend with the other workers (the report's bootstrap ran twice as slow with them). Set
# before numpy is first imported, here, where the workers are forked from.
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

for _signal in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signal, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM))

# Workers start with these imported: the step's modules, tiktoken, pyarrow (the batches come as
# Arrow), and what the command line imports (a worker runs the `arenatok` script, or `python -m
# arenatok.cli`, again as its __main__ module; arenatok.cli itself is not imported here, or
# runpy would warn that it is imported twice).
import click  # noqa: E402, F401
import pyarrow  # noqa: E402
import pyarrow.compute  # noqa: E402, F401
import tiktoken  # noqa: E402, F401

import arenatok.cli.output  # noqa: E402
import arenatok.pipeline.encodings  # noqa: E402
import arenatok.pipeline.engine  # noqa: E402
import arenatok.pipeline.plan  # noqa: E402

# The default encoding, built once here (0.1 s of CPU) instead of in every worker: a worker is
# forked with it. Only a head start: if it fails, each worker builds it and reports the error.
with contextlib.suppress(Exception):
    arenatok.pipeline.encodings.get_encoding("cl100k_base")
