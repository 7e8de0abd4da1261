"""Outreach after approval: sending replies, opt-outs, frequency caps, quiet hours and cases.

The deciding modules (`optouts`, `caps`, `cases`, `tone`) are pure functions of records and
`now`; `dispatch` is the one place that talks to the store and to the platforms, through the
`Publisher` protocol in `publishers`.
"""
