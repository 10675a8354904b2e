"""Local stand-ins for the two APIs, for first runs, demos and tests: the commercetools emulator
(an npm package, started from the project's ``emulator/`` folder) and the Ometria sandbox."""
