"""Outreach: drafting replies, the rules of reviewing them, and sending the approved ones.

The deciding modules (`drafting`, `review`, `optouts`, `caps`, `cases`, `tone`) are pure
functions of records and `now`; `steps` are the after-store steps (opt-outs, cases) and
`dispatch` is the one place that talks to the platforms, through the `Publisher` protocol in
`publishers`.
"""
