"""Leximind's answering core: neutral types, ports and the services built on them.

Nothing here imports a platform SDK or reads settings; adapters implement the ports.
"""
