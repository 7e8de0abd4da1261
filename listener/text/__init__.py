"""Reading mention text: which configured brand a text is about, and the host of its link.

Pure and fast: every mention passes through here, and nothing here does I/O.
"""
