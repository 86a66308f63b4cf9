"""Models in the window: the model picker and the loaded model, and the Models window (the
catalogue, the Hugging Face tab, imports, installed models, jobs)."""
