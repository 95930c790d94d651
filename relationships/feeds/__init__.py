"""The core system's feeds of the data this app owns (§12): organisation and staff (`organisation`), account
events (`account_events`).

Every line is validated and a bad one is reported with its number; the rows are written with bulk
statements per file, never a query per row. `reservations.exchange.registry.load_feed` owns the file-level
rules (content-hash dedupe, one transaction per file, the FeedFile record, the checks of every field against
the `*_RULES` of each module) and calls these.
"""
