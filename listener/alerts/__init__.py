"""Alerts to crisis responders: the outbox dispatcher and the channels it delivers through.

`message` renders what an alert says; `channel` is the `Channel` protocol; `webhook`, `slack`
and `email` implement it; `dispatcher` delivers the outbox at most once per alert and channel.
"""
