"""Data access: every DynamoDB table, each store behind a Protocol (ports); the only code that reads or writes items."""
