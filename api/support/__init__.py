"""Support tickets: users submit them; admins read, answer, close and reopen them."""
