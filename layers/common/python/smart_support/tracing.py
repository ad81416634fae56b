"""X-Ray tracing for the light handlers, set up by their first invocation rather than at import.

Powertools' Tracer imports the X-Ray SDK (which imports asyncio) and patches botocore when it is created: ~18 ms
of CPU, a tenth of a light function's cold import. Patching botocore's client class covers clients built before
or after it, so the first invocation can do it just as well; every invocation is traced as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]
_lock = threading.Lock()


def capture_lambda_handler(handler: Handler) -> Handler:
    """Powertools' `Tracer(patch_modules=("botocore",)).capture_lambda_handler(handler)`, built on first call."""
    traced: Handler | None = None

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        nonlocal traced
        if traced is None:
            with _lock:
                if traced is None:
                    from aws_lambda_powertools import Tracer

                    # only AWS calls are worth tracing here
                    traced = Tracer(patch_modules=("botocore",)).capture_lambda_handler(handler)
        return traced(event, context)

    return wrapper
