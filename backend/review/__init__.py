"""Analyst decisions: verdicts on clusters and accounts, notes, and the audit trail of both."""
