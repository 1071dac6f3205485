"""The read path: retrieval → answers made of verified quotes → front-ends (CLI)."""
