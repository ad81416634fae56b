"""Checkpoints on DynamoDB that keep only each thread's latest state (langgraph-checkpoint-aws DynamoDBSaver).

The graph state is already bounded (recent turns + a summary, see context.py), so the latest checkpoint is all a
thread needs: a run resumes from it, and an interrupted run's pending writes (the approval) hang off it. Older
checkpoints are history nobody reads; left alone they pile up until their TTL (one item pair per turn).

`DynamoDBSaver` 1.2.6 leaves `BaseCheckpointSaver.prune` unimplemented; this subclass implements it with the
library's own repository methods, and also deletes a parent as soon as its child is stored: one more request a
turn (a BatchWriteItem of two deletes; after an approval, also the Query that finds the interrupt's writes)
instead of a prune's five or more. The item keys follow the library's own key functions (pinned version).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, PendingWrite
from langgraph_checkpoint_aws import DynamoDBSaver
from langgraph_checkpoint_aws.checkpoint.dynamodb.unified_repository import (
    _checkpoint_pk,
    _checkpoint_ref_pk,
    _checkpoint_sk,
    _writes_pk,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import QueryInputTypeDef, WriteRequestTypeDef

    from smart_support.store.items import Item

logger = logging.getLogger(__name__)

_CHUNK_SK = "CHUNK"  # the sort key of a payload item stored in DynamoDB (StorageStrategy)
_REMEMBERED = 256  # checkpoints whose pending writes this process has seen (one Lambda serves one turn at a time)


class LatestCheckpointSaver(DynamoDBSaver):  # type: ignore[misc]  # the library ships no type information
    """A DynamoDBSaver that deletes a checkpoint once its child is stored, and implements `prune`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (thread, namespace, checkpoint id) -> whether it had pending writes when this process loaded it
        self._had_writes: dict[tuple[str, str, str], bool] = {}

    def _get_checkpoint_pending_writes(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str
    ) -> list[PendingWrite]:
        writes: list[PendingWrite] = super()._get_checkpoint_pending_writes(thread_id, checkpoint_ns, checkpoint_id)
        if len(self._had_writes) >= _REMEMBERED:
            self._had_writes.clear()
        self._had_writes[(thread_id, checkpoint_ns, checkpoint_id)] = bool(writes)
        return writes

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store the checkpoint, then delete its parent (and the parent's pending writes)."""
        stored: RunnableConfig = super().put(config, checkpoint, metadata, new_versions)
        configurable = config["configurable"]
        parent = configurable.get("checkpoint_id")
        if parent and parent != checkpoint["id"]:
            try:
                self._delete(configurable["thread_id"], configurable.get("checkpoint_ns", ""), parent)
            except ClientError:
                # The new checkpoint is safe; an old one left behind is only storage until its TTL.
                logger.warning("could not delete checkpoint %s", parent, exc_info=True)
        return stored

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Delete every checkpoint of the threads but the latest of each namespace ("delete": all of them)."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}")
        for thread_id in thread_ids:
            checkpoints = self.repo.get_thread_checkpoint_info(thread_id)
            if strategy == "keep_latest":
                latest: dict[str, str] = {}
                for namespace, checkpoint_id in checkpoints:
                    latest[namespace] = max(latest.get(namespace, ""), checkpoint_id)
                checkpoints = [(ns, cid) for ns, cid in checkpoints if latest[ns] != cid]
            if checkpoints:
                self.repo.delete_thread_writes(thread_id, checkpoints)
                self.repo.delete_thread_checkpoints(thread_id, checkpoints)

    def _delete(self, thread_id: str, namespace: str, checkpoint_id: str) -> None:
        keys: list[Item] = [
            {"PK": {"S": _checkpoint_pk(thread_id)}, "SK": {"S": _checkpoint_sk(namespace, checkpoint_id)}},
            {"PK": {"S": _checkpoint_ref_pk(thread_id, namespace, checkpoint_id)}, "SK": {"S": _CHUNK_SK}},
        ]
        # Pending writes exist only where a run stopped at an interrupt; look them up unless this process saw none.
        if self._had_writes.pop((thread_id, namespace, checkpoint_id), True):
            keys += self._write_keys(thread_id, namespace, checkpoint_id)
        for start in range(0, len(keys), 25):
            self._batch_delete(keys[start : start + 25])

    def _write_keys(self, thread_id: str, namespace: str, checkpoint_id: str) -> list[Item]:
        """Keys of a checkpoint's pending-write items and of their payload items."""
        keys: list[Item] = []
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _writes_pk(thread_id, namespace, checkpoint_id)}},
            "ProjectionExpression": "PK, SK, ref_key, ref_loc",
        }
        while True:
            page = self.client.query(**query)
            for item in page.get("Items", []):
                keys.append({"PK": item["PK"], "SK": item["SK"]})
                if item.get("ref_loc", {}).get("S") == "DYNAMODB":
                    keys.append({"PK": item["ref_key"], "SK": {"S": _CHUNK_SK}})
            if "LastEvaluatedKey" not in page:
                return keys
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _batch_delete(self, keys: list[Item]) -> None:
        deletes: list[WriteRequestTypeDef] = [{"DeleteRequest": {"Key": key}} for key in keys]
        requests: Mapping[str, Sequence[WriteRequestTypeDef]] = {self.table_name: deletes}
        for attempt in range(5):
            response = self.client.batch_write_item(RequestItems=requests)
            requests = response.get("UnprocessedItems") or {}
            if not requests:
                return
            time.sleep(0.05 * 2**attempt)
