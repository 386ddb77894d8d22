"""Domains app."""
