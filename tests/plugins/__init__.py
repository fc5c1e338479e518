"""Pytest plugins shared by the test tiers (load them with ``pytest_plugins``)."""
