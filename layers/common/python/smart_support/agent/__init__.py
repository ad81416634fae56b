"""The LangGraph support agent (import `smart_support.agent.graph` for the graph; this package stays light)."""
