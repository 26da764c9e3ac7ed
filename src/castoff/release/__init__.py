"""The five release components as pure engines, plus git and the workflow that joins them."""
