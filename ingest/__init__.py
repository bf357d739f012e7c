"""The middle floor: documents in the corpus folder -> pages and paragraphs -> passages -> a new index version."""
