"""Only what pyproject.toml cannot say: the checkout's top-level ``resources/`` folder (bundled
models, line finder, sample page) goes into the wheel as the package data ``mspt_core/_resources``,
where ``mspt_core.resources`` finds it. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

DATA = "mspt_core._resources"

setup(
    packages=[
        *find_namespace_packages(include=["mspt_core*", "mspt_app*"], exclude=["*.__pycache__"]),
        DATA,
        # its folders too, or setuptools warns about each ("would be ignored")
        *(f"{DATA}.{name}" for name in find_namespace_packages(where="resources", exclude=["*__pycache__*"])),
    ],
    package_dir={DATA: "resources"},
    package_data={DATA: ["**/*"]},
    exclude_package_data={DATA: ["**/__pycache__/*"]},
)
