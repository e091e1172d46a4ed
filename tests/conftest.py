"""Root of the test suite: puts tests/ on sys.path so helper modules (shared_data) import."""
