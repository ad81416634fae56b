"""The WebSocket protocol: client frames, server events, error codes and API Gateway event models."""
