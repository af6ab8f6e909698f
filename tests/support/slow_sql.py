"""One SQL statement per backend that runs for minutes unless something (the request deadline) stops it."""

SLOW_SQL = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
              "SELECT count(*) FROM (SELECT x FROM c LIMIT 5000000000)",
    "postgresql": "SELECT pg_sleep(600)",
}
