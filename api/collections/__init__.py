"""Document collections: an account's own files, searched beside (or instead of) the web."""
