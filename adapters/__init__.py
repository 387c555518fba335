"""The I/O adapters behind the core's ports, shared by every process.

`adapters.storage`: the object stores (local folder, S3), the durable spool, the spooled writer
and the interaction and feedback logs over them. `adapters.llm`: the OpenAI-compatible chat
model and the rollout state (a file of the data dir, or a Redis key shared by replicas).
`adapters.refresh`: re-reading a cached value in the background, never on the event loop.
Adapters import only `core`; `ops.wiring` builds them from settings.
"""
