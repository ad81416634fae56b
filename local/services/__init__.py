"""The AWS services the local stack emulates over HTTP, one module each; local.server assembles them.

apigw_websocket (the WebSocket API at /ws), apigw_connections (its @connections management API), apigw_http (the
HTTP API under /api/v1), lambda_invoke (the worker pool and Lambda's Invoke API), step_functions (the template's
state machine in moto). apigw and replies hold what several of them share.
"""
