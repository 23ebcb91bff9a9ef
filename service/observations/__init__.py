"""Counts of people from edge agents (or any device): POST /locations/{id}/observations."""
