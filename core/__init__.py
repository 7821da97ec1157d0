"""The kernel: settings, database, errors, logging, rate limits, embedded storage,
migrations, mail and the outbox. It imports no domain package."""
