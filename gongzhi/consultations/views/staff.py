"""Placeholder until this part lands."""

urls = []
