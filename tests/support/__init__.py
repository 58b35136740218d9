"""The machinery the tests' fixtures (tests/conftest.py) are built on, a module per role: programs (memoized runs of
the program, configs), moto_stack (the moto server's state, seeded from a plan), clock, fake_app, fake_pulumi (the
recording PulumiCommand), cli (scraper-ops in-process or as a process)."""
