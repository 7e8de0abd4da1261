"""Incidents: stories about a brand that crisis responders must hear about.

`detector`, `model`, `spike` and `terms` are the pure core: they decide from stored mentions,
their scores and `now`, and return decisions and state. `tracking` is the after-store step that
runs them under the store's lock and writes incidents with their alerts; `replay` drives the
whole pipeline over a file for replays and backtests.
"""
