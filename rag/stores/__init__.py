"""Vector store adapters behind the VectorStore port."""
