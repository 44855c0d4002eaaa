"""The tests' fixtures live in tests/fixtures/ (registered here, so every test package can
use them without importing a conftest); plain helpers and factories in tests/helpers.py
and tests/factories.py.

tests/fixtures/environment.py comes first: it sets the environment before anything reads
the app's settings.
"""

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.database",
    "tests.fixtures.staff",
    "tests.fixtures.carts",
    "tests.fixtures.api",
    "tests.fixtures.mail",
    "tests.fixtures.recovery",
    "tests.fixtures.returns",
]
