"""The Discord adapter: gateway client, reply chains as conversations, message splitting."""
