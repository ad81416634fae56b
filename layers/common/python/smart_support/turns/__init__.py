"""A turn's life: start it from a frame, the workflow's tasks, approval decisions, streaming to the client."""
