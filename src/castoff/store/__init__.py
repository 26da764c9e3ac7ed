"""The store: schema, migrations, transactions, leases — the only place SQL lives.

The orchestrator talks to the store through :class:`castoff.store.database.Database`
(engines, transactions with retry) and the query modules beside it, each a set
of small functions over a SQLAlchemy ``Connection`` that return plain rows.
"""
