"""Only what pyproject.toml cannot say: the checkout's top-level ``resources/`` folder (bundled
models, line finder, sample page) goes into the wheel as the package data ``mspt_core/_resources``,
where ``mspt_core.resources`` finds it. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["mspt_core*", "mspt_app*"], exclude=["*.__pycache__"]),
        "mspt_core._resources",
    ],
    package_dir={"mspt_core._resources": "resources"},
    package_data={"mspt_core._resources": ["**/*"]},
    exclude_package_data={"mspt_core._resources": ["samples/make_samples.py", "**/__pycache__/*"]},
)
