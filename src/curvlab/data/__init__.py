"""Embedded real data sets and seeded synthetic generators."""
