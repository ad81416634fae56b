"""The protocol's shared vocabulary: thread statuses, hand-off states, who may approve, who decided."""

from __future__ import annotations

from typing import Literal

Status = Literal["idle", "running", "awaiting_approval", "with_operator"]
HandoffState = Literal["requested", "joined", "returned"]
Approver = Literal["customer", "operator"]
DecidedBy = Literal["customer", "operator", "timeout"]
