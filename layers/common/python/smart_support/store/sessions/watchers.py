"""Where a thread's events go: the customer's connection (moved by a resume) and the operators' connections watching
it (bounded, each watch lapses)."""

from __future__ import annotations

import time

from smart_support.protocol.errors import NotFound, SessionExpired, ThreadBusy
from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, conditional_write
from smart_support.store.sessions.item import Session, thread_key
from smart_support.store.sessions.table import SessionTable

MAX_WATCHERS = 10  # operator connections watching one thread at once
WATCH_SECONDS = 2 * 3600  # a watch lapses with API Gateway's connection limit (the console watches again)


class TooManyWatchers(ThreadBusy):
    default_message = f"{MAX_WATCHERS} connections already watch this conversation."


class ThreadWatchers:
    """The connections a thread's events are sent to."""

    def __init__(self, table: SessionTable) -> None:
        self.table = table

    def attach_connection(self, thread_id: str, owner: str, connection_id: str, now: float | None = None) -> Session:
        """Send this thread's events to `connection_id` from now on (resume after reconnect)."""
        now = time.time() if now is None else now
        try:
            response = conditional_write(
                self.table.dynamodb.update_item,
                TableName=self.table.table_name,
                Key=thread_key(thread_id),
                UpdateExpression="SET connection_id = :conn",
                ConditionExpression="#owner = :owner AND expires_at > :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=items.to_values({":conn": connection_id, ":owner": owner, ":now": int(now)}),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as failed:
            if failed.old and Session.from_item(failed.old).owner == owner:
                raise SessionExpired() from failed
            raise NotFound("No conversation with that id.") from failed
        return Session.from_item(response["Attributes"])

    def add_watcher(
        self, thread_id: str, connection_id: str, now: float | None = None, until: int | None = None
    ) -> Session:
        """Send the thread's events to `connection_id` too (an operator watching) for WATCH_SECONDS, or until `until`
        (the watcher's token expiry) if sooner; lapsed watches are pruned."""
        now = time.time() if now is None else now
        lapses = min(int(now) + WATCH_SECONDS, until if until is not None else int(now) + WATCH_SECONDS)
        session = self.table.get(thread_id)
        if session is None:
            raise NotFound("No conversation with that id.")
        if session.expired(now):
            raise SessionExpired()
        lapsed = [conn for conn, until in session.watchers.items() if until <= now and conn != connection_id]
        names = {"#w": "watchers", "#c": connection_id} | {f"#x{i}": conn for i, conn in enumerate(lapsed)}
        values: dict[str, object] = {":until": lapses, ":now": int(now)}
        if "watchers" in session.model_fields_set:  # the item has the map (a nested SET needs its parent)
            expression = "SET #w.#c = :until" + (
                " REMOVE " + ", ".join(f"#w.#x{i}" for i in range(len(lapsed))) if lapsed else ""
            )
            # Strictly bounded: at most MAX_WATCHERS once the lapsed ones are gone (re-watching is always fine).
            condition = "expires_at > :now AND attribute_exists(#w) AND (size(#w) < :cap OR attribute_exists(#w.#c))"
            values[":cap"] = MAX_WATCHERS + len(lapsed)
        else:
            expression, condition = "SET #w = :first", "expires_at > :now AND attribute_not_exists(#w)"
            names = {"#w": "watchers"}
            values = {":first": {connection_id: lapses}, ":now": int(now)}
        try:
            response = conditional_write(
                self.table.dynamodb.update_item,
                TableName=self.table.table_name,
                Key=thread_key(thread_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=items.to_values(values),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as exc:
            latest = self.table.get(thread_id)
            if latest is None:
                raise NotFound("No conversation with that id.") from exc
            if latest.expired(now):
                raise SessionExpired() from exc
            if len(latest.live_watchers(now)) >= MAX_WATCHERS and connection_id not in latest.watchers:
                raise TooManyWatchers() from exc
            raise ThreadBusy("The conversation changed meanwhile; please watch it again.") from exc
        return Session.from_item(response["Attributes"])

    def remove_watcher(self, thread_id: str, connection_id: str) -> Session | None:
        """Stop sending the thread's events to `connection_id` (None when it was not watching)."""
        try:
            response = conditional_write(
                self.table.dynamodb.update_item,
                TableName=self.table.table_name,
                Key=thread_key(thread_id),
                UpdateExpression="REMOVE #w.#c",
                ConditionExpression="attribute_exists(#w.#c)",
                ExpressionAttributeNames={"#w": "watchers", "#c": connection_id},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return Session.from_item(response["Attributes"])
