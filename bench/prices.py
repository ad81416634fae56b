"""AWS list prices (us-east-1, on-demand, no free tier) used to turn measured counts into cost per 1,000 turns.

Read on 2026-11-24 from the public pricing pages below; update PRICES_READ_ON with the numbers.
- Step Functions:  https://aws.amazon.com/step-functions/pricing/  (Standard: $0.025 per 1,000 state transitions,
                   retries count as transitions)
- Lambda:          https://aws.amazon.com/lambda/pricing/  (requests $0.20 per 1M; Arm duration $0.0000133334 per
                   GB-second for the first 7.5 billion GB-s a month, billed per 1 ms)
- DynamoDB:        https://aws.amazon.com/dynamodb/pricing/on-demand/  (standard table class: $0.625 per million
                   write request units, $0.125 per million read request units, in force since 2024-11-01)
- API Gateway:     https://aws.amazon.com/api-gateway/pricing/  (WebSocket: $1.00 per million messages for the first
                   billion, metered in 32 KB increments, sent and received; $0.25 per million connection minutes)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PRICES_READ_ON = "2026-11-24"
REGION = "us-east-1"
SOURCES = {
    "stepfunctions": "https://aws.amazon.com/step-functions/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "apigateway": "https://aws.amazon.com/api-gateway/pricing/",
}


@dataclass(frozen=True)
class Prices:
    """Unit prices in USD."""

    state_transition: float = 0.025 / 1000
    lambda_request: float = 0.20 / 1_000_000
    lambda_gb_second_arm: float = 0.0000133334
    dynamodb_wru: float = 0.625 / 1_000_000
    dynamodb_rru: float = 0.125 / 1_000_000
    websocket_message: float = 1.00 / 1_000_000
    websocket_connection_minute: float = 0.25 / 1_000_000


PRICES = Prices()

# Assumptions for the per-connection costs, spread over the turns of a conversation.
TURNS_PER_CONNECTION = 4
CONNECTION_MINUTES = 5.0


@dataclass
class TurnUsage:
    """What one turn used, as measured (averages over the measured turns)."""

    transitions: float
    lambda_requests: dict[str, float]  # by function
    lambda_ms: dict[str, float]  # billed ms by function
    lambda_memory_mb: dict[str, int]
    rru: float
    wru: float
    ws_messages: float  # client -> server frames + server -> client frames (each under 32 KB)
    per_connection_lambda_requests: dict[str, float]
    per_connection_lambda_ms: dict[str, float]
    per_connection_rru: float
    per_connection_wru: float


def cost_per_1000(usage: TurnUsage, prices: Prices = PRICES) -> dict[str, float]:
    """USD per 1,000 turns, by service, plus the total."""
    per_turn = 1.0 / TURNS_PER_CONNECTION
    requests = sum(usage.lambda_requests.values()) + per_turn * sum(usage.per_connection_lambda_requests.values())
    gb_seconds = sum(
        usage.lambda_memory_mb[name] / 1024 * ms / 1000 for name, ms in usage.lambda_ms.items()
    ) + per_turn * sum(
        usage.lambda_memory_mb[name] / 1024 * ms / 1000 for name, ms in usage.per_connection_lambda_ms.items()
    )
    cost = {
        "stepfunctions": usage.transitions * prices.state_transition,
        "lambda_requests": requests * prices.lambda_request,
        "lambda_duration": gb_seconds * prices.lambda_gb_second_arm,
        "dynamodb": (usage.rru + per_turn * usage.per_connection_rru) * prices.dynamodb_rru
        + (usage.wru + per_turn * usage.per_connection_wru) * prices.dynamodb_wru,
        "apigateway_messages": usage.ws_messages * prices.websocket_message,
        "apigateway_connection_minutes": per_turn * CONNECTION_MINUTES * prices.websocket_connection_minute,
    }
    cost = {k: v * 1000 for k, v in cost.items()}
    cost["total"] = sum(cost.values())
    return cost


def price_table() -> dict[str, object]:
    """The prices, their sources and date, for the results file."""
    return {
        "read_on": PRICES_READ_ON,
        "region": REGION,
        "sources": SOURCES,
        "unit_prices": asdict(PRICES),
        "turns_per_connection": TURNS_PER_CONNECTION,
        "connection_minutes": CONNECTION_MINUTES,
    }
