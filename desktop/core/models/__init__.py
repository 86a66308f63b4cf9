"""The model library and what feeds it: installed models, the catalogue, the starter model, the
first-open probe of a model file, and the embedding models of document search."""
