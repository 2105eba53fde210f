"""HTTP layer: endpoint table, problem+json errors, middlewares, OpenAPI generation."""
