from pathlib import Path

from setuptools import find_packages, setup

# The requirements live in requirements.in, read when setup.py runs.
REQUIREMENTS = Path(__file__).with_name("requirements.in").read_text().split()

setup(
    name="notes",
    version="1.1.0",
    packages=find_packages(),
    install_requires=REQUIREMENTS,
)
