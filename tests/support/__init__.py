"""Helpers that tests share: builders of local models and starters of local servers."""
