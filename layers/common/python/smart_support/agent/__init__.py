"""The LangGraph support agent (import `smart_support.agent.graph` for the graph; this module stays light)."""

AGENT_NODES = ("supervisor", "order_status", "order_actions", "knowledge", "escalation")
