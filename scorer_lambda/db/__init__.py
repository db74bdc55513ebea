"""Database access with psycopg 3."""
