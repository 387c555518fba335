"""Leximind's answering core: neutral types, ports and the services built on them.

Nothing here does I/O, imports a platform SDK or reads settings: the object stores, the spool,
the chat-model client and the rollout state's file and Redis key are adapters (`adapters/`),
and `core` knows them only through its ports (`core.ports`). What core holds besides types and
ports are rules over them: answering, grounding, prompts, extractive answers, citations, the
answer memory and its curation over the object store, the object-key layout and the staged
rollout's routing. `make lint` checks that core imports no other Leximind package.
"""
