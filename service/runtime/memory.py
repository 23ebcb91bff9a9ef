"""A worker's memory, set up once at start-up. glibc's allocator is tuned for a worker that
decodes large frames in a few threads (`happiness bench soak`; see BENCHMARKS.md):

- at most MALLOC_ARENAS arenas: by default glibc gives each new thread its own (up to 8 per
  core), and each keeps the memory of the frames it decoded, so a worker's resident memory grows
  with the threads that ever analysed a large frame;
- a fixed mmap threshold: blocks of MMAP_THRESHOLD_BYTES or more (decoded frames, their gray
  copies, detector buffers) get their own mapping, returned to the system when freed. glibc's
  default threshold rises to the largest block ever freed (up to 32 MiB), after which frame
  buffers come from the heap and fragment it;
- after each analysed frame, the free pages inside the arenas handed back (`malloc_trim`): a
  frame's smaller buffers (under the threshold) are freed between blocks that live on, and
  glibc returns only the free memory at an arena's top by itself, so a worker that analyses
  frames side by side kept many free chunks resident. Releasing only once the
  resident size had grown by 16 MiB let it settle higher again (BENCHMARKS.md, section 7).

Tuned once per worker at start-up; each a no-op where glibc is absent.

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


def _glibc_function(name: str):
    """A function of the C library by name, None where there is no such function (not glibc)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _glibc_function("malloc_trim")


def tune_allocator() -> bool:
    """True when glibc took both settings."""
    mallopt = _glibc_function("mallopt")
    if mallopt is None:
        return False
    done = mallopt(M_ARENA_MAX, MALLOC_ARENAS) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    log.info("allocator: %d arenas, mmap threshold %d bytes (%s)", MALLOC_ARENAS, MMAP_THRESHOLD_BYTES,
             "set" if done else "refused")
    return done


def release_free_memory() -> bool:
    """Hand the free pages inside the allocator's arenas back to the system; True when glibc
    released some. Called after each frame's analysis, in the thread that analysed it."""
    return bool(_MALLOC_TRIM(0)) if _MALLOC_TRIM is not None else False


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
