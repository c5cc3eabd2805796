"""API tokens and roles: who may call the API and what each role may do."""
