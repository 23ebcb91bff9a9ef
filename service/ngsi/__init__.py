"""An NGSI-LD view of each location's latest happiness index, for FIWARE context brokers."""
