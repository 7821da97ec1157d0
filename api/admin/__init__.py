"""The admin surface: users and suspension, jobs and refunds, tickets, stats, and the audit log."""
