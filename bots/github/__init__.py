"""The GitHub adapter: webhook events -> questions -> answer comments; reactions by polling."""
