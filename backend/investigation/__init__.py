"""What analysts read: accounts, identifiers, clusters, paths between accounts, the change feed."""
