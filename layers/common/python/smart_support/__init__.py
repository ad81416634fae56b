"""smart-support domain package: protocol, settings, data access, approvals, agent."""
