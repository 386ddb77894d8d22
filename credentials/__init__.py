"""Credentials app."""
