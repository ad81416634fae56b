"""make eval: agent-quality scenarios (data), the runner, and its results."""
