"""Training and validation data built from public collections.

- :mod:`tinct.dataset.phash`: 64-bit perceptual hashes and a near-duplicate index.
- :mod:`tinct.dataset.sources`: the collections (repository, commit, path, split rule, terms).
- :mod:`tinct.dataset.build`: extracts them from fetched git snapshots, drops gray and near-gray
  images and near-duplicates, resizes, writes ``train/<source>/`` and ``val/<source>/`` folders and
  a manifest. ``tinct data build`` runs it.
"""
