"""Memory: moto stops keeping every model object it ever created.

AWS: what a service stops serving is gone (an item: DynamoDB API reference, DeleteItem; a finished execution after
its retention: Step Functions Developer Guide, "Quotas"). moto 5.2.5 appends every `BaseModel` instance it creates
to its class's `instances_tracked` (`moto/core/common_models.py`, for the MotoServer dashboard, not run here) and
never removes one: the stack grew by about 1 MB a turn (docs/performance.md). Upstream: moto would track instances
only when the dashboard is enabled (or through weak references).
"""

from __future__ import annotations

import functools
from typing import Any


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


@functools.cache
def install() -> None:
    """Create moto's models without tracking them, and forget what was tracked (once)."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    model: Any = BaseModel
    model.__new__ = _untracked_new
    reset_model_data()
