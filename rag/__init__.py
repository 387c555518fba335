"""Indexing and retrieval: walk a repository, chunk it, embed it, store it, search it."""
