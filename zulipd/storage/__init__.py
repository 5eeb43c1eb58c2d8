"""All SQL lives here: the pool, the migrations and the stores."""
