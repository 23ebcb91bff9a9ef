"""A worker's memory, set up once at start-up. glibc's allocator is tuned for a worker that
decodes large frames in a few threads (`happiness bench soak`; see BENCHMARKS.md):

- at most MALLOC_ARENAS arenas: by default glibc gives each new thread its own (up to 8 per
  core), and each keeps the memory of the frames it decoded, so a worker's resident memory grows
  with the threads that ever analysed a large frame;
- a fixed mmap threshold: blocks of MMAP_THRESHOLD_BYTES or more (decoded frames, their gray
  copies, detector buffers) get their own mapping, returned to the system when freed. glibc's
  default threshold rises to the largest block ever freed (up to 32 MiB), after which frame
  buffers come from the heap and fragment it.

Called once per worker at start-up; a no-op where glibc is absent.

And the objects loaded at start-up (modules, the model, the app) frozen out of the cycle
collector's reach (gc.freeze, as CPython's documentation suggests for servers): its full
collections, which an answer of thousands of periods sets off, then scan what requests made
rather than the whole process (BENCHMARKS.md, section 3)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # mallopt parameters (malloc.h)
MALLOC_ARENAS = 2
MMAP_THRESHOLD_BYTES = 1024 * 1024


def tune_allocator() -> bool:
    """True when glibc took both settings."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    done = mallopt(M_ARENA_MAX, MALLOC_ARENAS) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    log.info("allocator: %d arenas, mmap threshold %d bytes (%s)", MALLOC_ARENAS, MMAP_THRESHOLD_BYTES,
             "set" if done else "refused")
    return done


def freeze_startup_objects() -> int:
    """Collect, then freeze what is left: the number of objects frozen, 0 when this process
    froze before (a process with several apps, as a test run has, freezes only the first's)."""
    if gc.get_freeze_count():
        return 0
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("garbage collector: %d start-up objects frozen", frozen)
    return frozen
