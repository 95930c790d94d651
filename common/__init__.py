"""The bottom layer: helpers every app uses, importing no app of the project (an import-linter contract)."""
