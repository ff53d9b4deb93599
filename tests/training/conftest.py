"""Fixtures of the teacher-training tests (the tiny corpus lives in ``teacher_fixtures.py``, shared with
``tests/test_export.py`` and ``tests/test_cli.py``). ``distill_fixtures.py`` belongs to the distillation tests.
"""

from tests.training.teacher_fixtures import tiny_data  # noqa: F401 (fixture)
