"""Chat: the engine that runs a GGUF in llama.cpp, the session that owns a conversation, how one
answer runs for every front end, prompt formats, and how answers are rendered."""
