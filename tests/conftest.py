"""Shared test set-up: none is needed.

The SDK's unit tests fake answers with ``digipix_async.testing.MockTransport`` and
its integration tests use the sandbox over loopback sockets; aioresponses (and the
shim it needed on aiohttp 3.14, upstream issue #289) is no longer used.
"""
