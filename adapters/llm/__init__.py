"""The chat model (core.ports.ChatModel) and the rollout state (core.ports.Rollout)."""
