"""Object and interaction stores implementing the core storage ports."""
