"""Import every module that defines tables, so SQLModel.metadata knows the whole schema.

Migrations and `create_all` in tests rely on this one list; add a module here when it defines
tables.
"""

from listener.store import (
    incident_tables,  # noqa: F401
    outreach_tables,  # noqa: F401
    statement_tables,  # noqa: F401
    tables,  # noqa: F401
    web_tables,  # noqa: F401
)
