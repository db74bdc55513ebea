"""Pure domain logic: no I/O, no psycopg, no os."""
