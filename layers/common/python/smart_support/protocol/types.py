"""The protocol's shared vocabulary: thread statuses, who may approve, who decided."""

from __future__ import annotations

from typing import Literal

Status = Literal["idle", "running", "awaiting_approval"]
Approver = Literal["customer", "operator"]
DecidedBy = Literal["customer", "operator", "timeout"]
