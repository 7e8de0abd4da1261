"""The store's area objects: `store.users`, `store.desk`, `store.sources`, `store.incidents`,
`store.alerts`, `store.outreach`, each with methods named for what callers want and each
opening its own transaction. Callers outside `listener.store` go through these, never through
a connection or a query module."""
