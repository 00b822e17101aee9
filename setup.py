from setuptools import setup, find_packages

setup(
    name="deeplift",
    version="1.0.0",
    description="DeepLIFT attribution engine for TensorFlow 2 / Keras 3, "
                "compatible with kundajelab/deeplift 0.6.13",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=["tests", "tests.*", "bench", "examples"]),
    package_data={"deeplift": ["data/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "numpy>=1.23",
        "h5py>=3.0",
        "tqdm>=4.0",
        "pyyaml>=5.0",
    ],
    extras_require={
        "viz": ["matplotlib>=3.5"],
        "genomics": ["pyfaidx>=0.8", "zarr>=3", "pyBigWig>=0.3.22"],
        "distributed": ["dask>=2024.1", "distributed>=2024.1", "psutil"],
        "fast": ["numba"],
        "test": ["pytest>=7", "matplotlib>=3.5", "tf_keras", "numba",
                 "pyfaidx>=0.8", "zarr>=3", "pyBigWig>=0.3.22",
                 "dask>=2024.1", "distributed>=2024.1", "psutil",
                 "dask-jobqueue>=0.9"],
        "peers": ["torch", "captum", "tangermeme", "shap", "modisco-lite"],
        # scripts/build_docs.sh: Sphinx (the napoleon hooks of docs/conf.py
        # are checked on 7-9), the executed tutorials' kernel and their
        # plotting and genomics dependencies
        "docs": ["sphinx>=7,<10", "myst-nb>=1.0", "sphinx-design", "furo",
                 "ipykernel", "matplotlib>=3.5", "pyfaidx>=0.8", "zarr>=3",
                 "pyBigWig>=0.3.22"],
    },
    entry_points={"console_scripts": ["deeplift=deeplift.cli:main"]},
)
