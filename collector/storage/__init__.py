"""The collector's local SQLite stores: the spool, the dead letters and the item index."""
