"""The ground floor: errors, file I/O, layer types, one forward pass, hardware and seeding.

Nothing here imports the rest of the project."""
