"""The HTTP API (/api/v1): Powertools APIGatewayHttpResolver with routes split by Router."""
