"""Platform adapters (Slack, Discord, GitHub): event -> Question -> core -> platform message."""
