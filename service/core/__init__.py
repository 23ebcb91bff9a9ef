"""Small shared cores with no service imports of their own: the emotion classes and the time
buckets that the server, its domains and the edge agent all count in."""
