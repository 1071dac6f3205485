"""The write path: sources → clean articles → chunks with offsets → embeddings → store."""
