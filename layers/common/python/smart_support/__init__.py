"""smart-support's domain package: protocol, store, turns, agent, api, auth, settings (docs/architecture.md)."""
