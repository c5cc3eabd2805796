"""What ban tooling acts on: flagged clusters' confident members, minus accounts cleared by hand."""
