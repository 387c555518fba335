"""Object stores, the durable spool and the interaction and feedback logs (core.ports)."""
