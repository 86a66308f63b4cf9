"""The conversation side of the window: the transcript, the question box, the conversations
list, and the adapter that drives a ChatSession from them."""
