"""The surface language: YAML with positions, pydantic models, expressions, loading."""
