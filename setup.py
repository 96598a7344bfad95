"""The one compiled part of policysim: the registry's as-of-time lookup in C.

Optional: where no compiler is found the build goes on without it and the registry answers from
its pure-Python finder (``policysim.policies.registry_index.NATIVE`` is None then).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "policysim.policies._finder",
            ["policies/_finder.c"],
            optional=True,
        )
    ]
)
