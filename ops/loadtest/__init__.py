"""The Locust load test of a running `leximind serve`: /ask, /search, Slack and GitHub events."""
