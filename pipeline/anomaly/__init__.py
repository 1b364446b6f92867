"""The runtime side of the behaviour models: training from files or Elasticsearch, loading, hot reload."""
