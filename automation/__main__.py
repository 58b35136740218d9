"""`python -m automation` and the `scraper-ops` console script."""

import atexit
import gc
import os
import sys
import threading

# A command imports up to ~1,800 modules (the Pulumi SDKs are large), which allocate over a million long-lived
# objects. With CPython's default first-generation threshold (700 allocations) the collector walks them again and
# again while nothing cyclic is freed: about a third of `plan`'s CPU. Collections still happen, 70 times less often.
GC_THRESHOLDS = (50_000, 20, 10)


def run() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    from automation import sdk_imports, user_cache

    sdk_imports.enable()
    from automation.cli import main

    user_cache.enable()

    exit_without_teardown(main())


def exit_without_teardown(code: int) -> None:
    """Exit as the interpreter does, minus tearing down every module and object (~0.8 s of CPU after `plan`).

    What an exit owes the user is kept, in CPython's order (Py_FinalizeEx): non-daemon threads are joined and
    executors shut down (`threading._shutdown`), atexit handlers run (logging flushes its handlers, temporary
    directories are removed), stdout and stderr are flushed, and the exit code is the command's. Skipped are only
    the module teardown and the final collections: no file is left unflushed by them, because every file the
    commands write is closed by its `with` block. If any of this cannot be done, the normal exit is taken.
    """
    shutdown_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown_threads is None or run_exit_handlers is None:
        sys.exit(code)
    shutdown_threads()
    run_exit_handlers()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)  # the interpreter's own exit reports an unflushable stream as it always has
    os._exit(code)


if __name__ == "__main__":
    run()
