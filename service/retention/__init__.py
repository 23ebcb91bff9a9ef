"""Retention: the prune of old counts, receipts, pauses and audit entries, and the server's
background job that runs it; above audit and pauses, whose rows it deletes."""
