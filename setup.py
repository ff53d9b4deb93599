"""Build script: the metadata and dependencies are in setup.cfg; this adds the packages and their data.

``configs/`` (the YAML of ``python -m babylm fit -c configs/…``) lives at the repository root, where the
README's commands name it, and is also shipped inside the package as ``babylm/configs/``, so that a wheel
install (``pip install git+https://…``, no checkout) has the configs too; ``babylm/commands/shipped_configs.py`` finds
either. ``tests/test_packaging.py`` builds a wheel, installs it into a fresh venv and runs ``fit`` from
outside the repository.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
CONFIG_DIRS = sorted([HERE / "configs", *(p for p in (HERE / "configs").rglob("*") if p.is_dir())])
# babylm.configs, babylm.configs.tiny
CONFIG_PACKAGES = [".".join(("babylm", *p.relative_to(HERE).parts)) for p in CONFIG_DIRS]

setup(
    packages=find_packages(where=str(HERE), include=["babylm", "babylm.*"]) + CONFIG_PACKAGES,
    package_dir={"babylm.configs": "configs"},
    package_data={"babylm": ["resources/**/*"], **{name: ["*.yaml"] for name in CONFIG_PACKAGES}},
)
