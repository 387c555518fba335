"""Chat model adapters implementing core.ports.ChatModel."""
