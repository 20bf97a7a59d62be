"""Upgrade strategies: how a stack moves from one version to the next."""
