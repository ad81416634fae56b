"""Deployment tooling run by `make deploy` after `sam deploy`: publishing the web pages with their config.json."""
