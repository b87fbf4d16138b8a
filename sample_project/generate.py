"""Regenerate this sample project's data: `python sample_project/generate.py`.

The data is deterministic (fixed seed), so the output is byte-identical on every run; the
generator lives in flowsite/sample.py so `flowsite init` writes the same project.
"""
from pathlib import Path

from flowsite.sample import generate

if __name__ == "__main__":
    counts = generate(Path(__file__).resolve().parent)
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))
