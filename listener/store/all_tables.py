"""Import every module that defines tables, so SQLModel.metadata knows the whole schema.

Migrations and `create_all` in tests rely on this one list; add a module here when it defines
tables.
"""

from listener.store import tables  # noqa: F401
from listener.store import web_tables  # noqa: F401
